import Foundation

extension FlashgateConfig {
    /// Validates a parsed config document. `environment` and `readFile` are injected so secret
    /// resolution is testable.
    package static func load(
        _ root: ConfigNode, environment: [String: String],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(ConfigError) -> FlashgateConfig {
        var top = try ConfigMap(root, path: "")
        var config = FlashgateConfig.embeddedDefaults(environment: environment)

        if var listen = try top.map("listen") {
            if let tcp = try listen.bool("tcp"), !tcp { config.listen.host = nil }
            if let host = try listen.string("host") {
                if config.listen.host != nil { config.listen.host = host }
            }
            if let port = try listen.int("port", in: 0...65535) { config.listen.port = port }
            config.listen.socketPath = try listen.string("socket")
            if let mode = try listen.string("socket_mode") {
                guard let value = UInt32(mode, radix: 8), value <= 0o777 else {
                    throw ConfigError(path: listen.child("socket_mode"), reason: "expected an octal mode such as 0660, got '\(mode)'")
                }
                config.listen.socketMode = value
            }
            try listen.finish()
        }
        if config.listen.host == nil && config.listen.socketPath == nil {
            throw ConfigError(path: "listen", reason: "TCP is off and no socket is set: Flashgate would listen nowhere")
        }

        if var limits = try top.map("limits") {
            if let v = try limits.bytes("max_body_bytes", in: 1024...(4 << 30)) { config.limits.maxBodyBytes = v }
            if let v = try limits.bytes("max_header_bytes", in: 1024...(1 << 20)) { config.limits.maxHeaderBytes = v }
            if let v = try limits.duration("header_timeout") { config.limits.headerTimeout = v }
            if let v = try limits.duration("body_timeout") { config.limits.bodyTimeout = v }
            if let v = try limits.duration("idle_timeout") { config.limits.idleTimeout = v }
            if let v = try limits.duration("shutdown_grace") { config.limits.shutdownGrace = v }
            try limits.finish()
        }

        if var store = try top.map("store") {
            if let path = try store.string("path") { config.store.path = path }
            if let size = try store.bytes("max_size", in: (1 << 20)...(1 << 40)) { config.store.maxSizeBytes = size }
            try store.finish()
        }

        if var upstream = try top.map("upstream") {
            if let v = try upstream.duration("connect_timeout") { config.upstreamTimeouts.connect = v }
            if let v = try upstream.duration("first_byte_timeout") { config.upstreamTimeouts.firstByte = v }
            if let v = try upstream.duration("idle_timeout") { config.upstreamTimeouts.idle = v }
            if let v = try upstream.duration("total_timeout") { config.upstreamTimeouts.total = v }
            if var tiers = try upstream.map("tiers") {
                for tier in [ServiceTier.flex, .priority] {
                    guard var timeouts = try tiers.map(tier.rawValue) else { continue }
                    var value = config.tierTimeouts[tier] ?? config.upstreamTimeouts
                    if let v = try timeouts.duration("connect_timeout") { value.connect = v }
                    if let v = try timeouts.duration("first_byte_timeout") { value.firstByte = v }
                    if let v = try timeouts.duration("idle_timeout") { value.idle = v }
                    if let v = try timeouts.duration("total_timeout") { value.total = v }
                    try timeouts.finish()
                    config.tierTimeouts[tier] = value
                }
                try tiers.finish()
            }
            if let v = try upstream.int("max_connections", in: 1...65_536) { config.upstreamMaxConnections = v }
            try upstream.finish()
        }

        if let items = try top.list("routes") {
            var routes: [RouteConfig] = []
            for (i, item) in items.enumerated() {
                let route = try loadRoute(item, path: "routes[\(i)]", environment: environment, readFile: readFile)
                if routes.contains(where: { $0.name == route.name }) {
                    throw ConfigError(path: "routes[\(i)].name", reason: "route '\(route.name)' is defined twice")
                }
                routes.append(route)
            }
            if routes.isEmpty { throw ConfigError(path: "routes", reason: "at least one route is required") }
            config.routes = routes
        }

        if let items = try top.list("models") { config.models = try loadModels(items, routes: config.routes) }

        if var retry = try top.map("retry") { config.retry = try loadRetry(&retry) }
        if var breaker = try top.map("breaker") { config.breaker = try loadBreaker(&breaker) }

        if let cache = try top.map("cache") { config.cache = try CacheConfig.load(cache) }
        if let context = try top.map("context_cache") { config.contextCache = try ContextCacheConfig.load(context) }
        if let ledger = try top.map("ledger") { config.ledger = try LedgerConfig.load(ledger) }
        if let shared = try top.map("shared") {
            config.shared = try SharedConfig.load(
                shared, environment: environment, readFile: readFile,
                hostName: environment["FLASHGATE_HOST_ID"] ?? ProcessInfo.processInfo.hostName)
            if config.ledger.durability != .lease {
                throw ConfigError(path: "shared", reason: "shared budgets need ledger.durability: lease")
            }
        }
        if let responses = try top.map("responses") { config.responses = try ResponsesConfig.load(responses) }

        if var media = try top.map("media") { config.media = try MediaConfig.load(&media) }

        try loadAdmission(&top, into: &config, environment: environment)

        if var log = try top.map("log") {
            if let level = try log.string("level") {
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard levels.contains(level) else {
                    throw ConfigError(path: log.child("level"), reason: "expected one of \(levels.joined(separator: ", "))")
                }
                config.log.level = level
            }
            if let format = try log.string("format") {
                guard let value = LogConfig.Format(rawValue: format) else {
                    throw ConfigError(path: log.child("format"), reason: "expected logfmt or json")
                }
                config.log.format = value
            }
            if let access = try log.bool("access") { config.log.access = access }
            try log.finish()
        }
        if var metrics = try top.map("metrics") {
            if let enabled = try metrics.bool("enabled") { config.metrics.enabled = enabled }
            try metrics.finish()
        }
        if var process = try top.map("process") {
            if let scheduling = try process.string("scheduling") {
                guard let policy = ThreadScheduling.Policy(rawValue: scheduling) else {
                    throw ConfigError(path: process.child("scheduling"), reason: "expected normal or batch")
                }
                config.scheduling = policy
            }
            try process.finish()
        }
        try top.finish()
        return config
    }
}
