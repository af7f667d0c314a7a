import Foundation

extension SharedConfig {
    /// Parses `shared:`. The password comes from `password_env` or `password_file`, never the text.
    package static func load(
        _ map: ConfigMap, environment: [String: String], readFile: (String) throws -> String, hostName: String
    ) throws(ConfigError) -> SharedConfig {
        var map = map
        guard let text = try map.string("address") else {
            throw ConfigError(path: map.child("address"), reason: "required: host:port or a Unix socket path")
        }
        guard let address = Address(text) else {
            throw ConfigError(
                path: map.child("address"), reason: "expected host:port, unix:/path or /path, got '\(text)'")
        }
        var config = SharedConfig(address: address, hostID: hostName)
        if let v = try map.int("database", in: 0...1023) { config.database = v }
        if let v = try map.string("key_prefix") { config.keyPrefix = v }
        if let v = try map.string("host_id") {
            guard !v.isEmpty, v.count <= 128, !v.contains(where: { $0 == ":" || $0.isWhitespace }) else {
                throw ConfigError(path: map.child("host_id"), reason: "expected a name without spaces or colons")
            }
            config.hostID = v
        }
        if let v = try map.string("password_env") {
            guard let value = environment[v], !value.isEmpty else {
                throw ConfigError(path: map.child("password_env"), reason: "environment variable \(v) is not set")
            }
            config.password = Secret(value)
        }
        if let file = try map.string("password_file") {
            guard config.password == nil else {
                throw ConfigError(
                    path: map.child("password_file"), reason: "use password_env or password_file, not both")
            }
            let text: String
            do { text = try readFile(file) } catch {
                throw ConfigError(path: map.child("password_file"), reason: "cannot read \(file)")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                throw ConfigError(path: map.child("password_file"), reason: "\(file) is empty")
            }
            config.password = Secret(value)
        }
        if let v = try positive(&map, "connect_timeout") { config.connectTimeout = v }
        if let v = try positive(&map, "command_timeout") { config.commandTimeout = v }
        if let v = try positive(&map, "lease_ttl") { config.leaseTTL = v }
        if let v = try map.int("lease_calls", in: 1...100_000) { config.leaseCalls = v }
        if let text = try map.string("min_chunk") {
            guard let v = MicroUSD(dollars: text), v > .zero else {
                throw ConfigError(path: map.child("min_chunk"), reason: "expected dollars such as 0.01, got '\(text)'")
            }
            config.minChunk = v
        }
        if let v = try map.int("prefetch_percent", in: 0...90) { config.prefetchPercent = v }
        if let v = try map.int("unreported_calls", in: 1...100_000) { config.unreportedCalls = v }
        if let text = try map.string("outage") {
            guard let v = OutagePolicy(rawValue: text) else {
                throw ConfigError(path: map.child("outage"), reason: "expected refuse or local_share")
            }
            config.outage = v
        }
        if let v = try map.int("local_share_percent", in: 0...100) { config.localSharePercent = v }
        if config.outage == .localShare && config.localSharePercent == 0 {
            throw ConfigError(
                path: map.child("local_share_percent"), reason: "outage: local_share needs a share above 0")
        }
        if let v = try positive(&map, "reconnect_min") { config.reconnectMin = v }
        if let v = try positive(&map, "reconnect_max") { config.reconnectMax = v }
        if config.reconnectMax < config.reconnectMin {
            throw ConfigError(path: map.child("reconnect_max"), reason: "must be at least reconnect_min")
        }
        try map.finish()
        return config
    }

    private static func positive(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> Duration? {
        guard let v = try map.duration(key) else { return nil }
        guard v > .zero else { throw ConfigError(path: map.child(key), reason: "expected a duration above 0") }
        return v
    }
}
