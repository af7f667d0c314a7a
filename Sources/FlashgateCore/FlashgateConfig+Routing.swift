import Foundation

extension FlashgateConfig {
    // MARK: Routes

    /// Keys only a Vertex route reads; on another kind they are refused with a hint.
    private static let vertexOnlyKeys = [
        "project", "location", "service_account_file", "token_file", "token_env", "token_url",
    ]

    static func loadRoute(
        _ node: ConfigNode, path: String, environment: [String: String], readFile: (String) throws -> String
    ) throws(ConfigError) -> RouteConfig {
        var map = try ConfigMap(node, path: path)
        guard let name = try map.string("name"), !name.isEmpty else {
            throw ConfigError(path: map.child("name"), reason: "a route needs a name")
        }
        // A route's name goes whole into ledger rollup keys, logs, metrics labels and CSV exports.
        guard name.utf8.count <= 128, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ConfigError(path: map.child("name"), reason: "a route name is at most 128 bytes, without control characters")
        }
        let kinds = RouteConfig.Kind.allCases.map(\.rawValue).joined(separator: ", ")
        guard let kindText = try map.string("kind") else {
            throw ConfigError(path: map.child("kind"), reason: "a route needs a kind (\(kinds))")
        }
        guard let kind = RouteConfig.Kind(rawValue: kindText) else {
            throw ConfigError(
                path: map.child("kind"), reason: "unknown route kind '\(kindText)'; expected one of \(kinds)")
        }
        if map.node("api_key") != nil {
            throw ConfigError(
                path: map.child("api_key"),
                reason: "keys never go in the config text; use api_key_env, api_keys_env, api_key_file or api_key_files"
            )
        }
        if kind != .vertex {
            for key in vertexOnlyKeys where map.node(key) != nil {
                throw ConfigError(path: map.child(key), reason: "only a vertex route has \(key)")
            }
        }
        let apiKeys = try loadAPIKeys(&map, environment: environment, readFile: readFile)
        let passthrough = try map.bool("passthrough") ?? false
        let cacheTTL = try map.duration("cache_ttl")

        var route: RouteConfig
        switch kind {
        case .gemini:
            let baseURL = try httpURL(&map, "base_url") ?? RouteConfig.googleBaseURL
            let apiVersion = try apiVersion(&map, default: "v1beta")
            route = RouteConfig(
                name: name, kind: kind, baseURL: baseURL, apiKeys: apiKeys, apiVersion: apiVersion,
                passthrough: passthrough)
        case .openai:
            guard let baseURL = try httpURL(&map, "base_url") else {
                throw ConfigError(
                    path: map.child("base_url"),
                    reason:
                        "an openai route needs a base_url, such as https://generativelanguage.googleapis.com/v1beta/openai"
                )
            }
            if map.node("api_version") != nil {
                throw ConfigError(
                    path: map.child("api_version"),
                    reason: "an openai route has no api_version; put the whole path in base_url")
            }
            route = RouteConfig(
                name: name, kind: kind, baseURL: baseURL, apiKeys: apiKeys, apiVersion: "", passthrough: passthrough)
        case .vertex:
            let vertex = try loadVertex(&map, apiKeys: apiKeys, environment: environment, readFile: readFile)
            let baseURL = try httpURL(&map, "base_url") ?? VertexRouteConfig.defaultBaseURL(location: vertex.location)
            let apiVersion = try apiVersion(&map, default: "v1beta1", allowed: ["v1", "v1beta1"])
            route = RouteConfig(
                name: name, kind: kind, baseURL: baseURL, apiKeys: [], apiVersion: apiVersion, vertex: vertex,
                passthrough: passthrough)
        case .mock:
            var baseURL = try map.string("base_url") ?? ""
            while baseURL.hasSuffix("/") { baseURL.removeLast() }
            let apiVersion = try apiVersion(&map, default: "v1beta")
            route = RouteConfig(
                name: name, kind: kind, baseURL: baseURL, apiKeys: apiKeys, apiVersion: apiVersion,
                passthrough: passthrough)
        }
        try map.finish()
        route.cacheTTL = cacheTTL
        return route
    }

    /// The route's keys from `api_key_env`, `api_keys_env`, `api_key_file` and `api_key_files`, in
    /// the order those keys appear; a variable, file or key value given twice is refused.
    private static func loadAPIKeys(
        _ map: inout ConfigMap, environment: [String: String], readFile: (String) throws -> String
    ) throws(ConfigError) -> [Secret] {
        var keys: [Secret] = []
        var sources: [String] = []
        func add(_ secret: Secret, source: String, path: String) throws(ConfigError) {
            if sources.contains(source) {
                throw ConfigError(path: path, reason: "\(source) is named twice")
            }
            if keys.contains(secret) {
                throw ConfigError(path: path, reason: "\(source) holds the same key as an earlier entry")
            }
            sources.append(source)
            keys.append(secret)
        }
        func fromEnvironment(_ variable: String, path: String) throws(ConfigError) -> Secret {
            guard let value = environment[variable], !value.isEmpty else {
                throw ConfigError(path: path, reason: "environment variable \(variable) is not set")
            }
            return Secret(value)
        }
        func fromFile(_ file: String, path: String) throws(ConfigError) -> Secret {
            let text: String
            do { text = try readFile(file) } catch { throw ConfigError(path: path, reason: "cannot read \(file)") }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw ConfigError(path: path, reason: "\(file) is empty") }
            return Secret(value)
        }
        var done: Set<String> = []
        for key in map.keys where !done.contains(key) {
            done.insert(key)
            let path = map.child(key)
            switch key {
            case "api_key_env":
                guard let variable = try map.string(key) else { continue }
                try add(try fromEnvironment(variable, path: path), source: "variable \(variable)", path: path)
            case "api_key_file":
                guard let file = try map.string(key) else { continue }
                try add(try fromFile(file, path: path), source: "file \(file)", path: path)
            case "api_keys_env":
                guard let variables = try stringList(&map, key) else { continue }
                for (i, variable) in variables.enumerated() {
                    let itemPath = "\(path)[\(i)]"
                    try add(
                        try fromEnvironment(variable, path: itemPath), source: "variable \(variable)", path: itemPath)
                }
            case "api_key_files":
                guard let files = try stringList(&map, key) else { continue }
                for (i, file) in files.enumerated() {
                    let itemPath = "\(path)[\(i)]"
                    try add(try fromFile(file, path: itemPath), source: "file \(file)", path: itemPath)
                }
            default: continue
            }
        }
        return keys
    }

    /// A Vertex route's project, location and its one credential. `apiKeys` are the keys the
    /// route named, which make it an express-mode route.
    private static func loadVertex(
        _ map: inout ConfigMap, apiKeys: [Secret], environment: [String: String], readFile: (String) throws -> String
    ) throws(ConfigError) -> VertexRouteConfig {
        let keySources = ["api_keys_env", "api_key_files"].filter { map.keys.contains($0) }
        if let key = keySources.first {
            throw ConfigError(
                path: map.child(key), reason: "a vertex route takes one express key: use api_key_env or api_key_file")
        }
        var found: [(key: String, credentials: VertexRouteConfig.Credentials)] = []
        if let file = try map.string("service_account_file") {
            do { _ = try readFile(file) } catch {
                throw ConfigError(path: map.child("service_account_file"), reason: "cannot read \(file)")
            }
            found.append(("service_account_file", .serviceAccountFile(path: file)))
        }
        if let file = try map.string("token_file") {
            guard !file.isEmpty else {
                throw ConfigError(path: map.child("token_file"), reason: "expected a file path")
            }
            found.append(("token_file", .tokenFile(path: file)))
        }
        if let variable = try map.string("token_env") {
            guard let value = environment[variable], !value.isEmpty else {
                throw ConfigError(path: map.child("token_env"), reason: "environment variable \(variable) is not set")
            }
            found.append(("token_env", .token(Secret(value))))
        }
        if apiKeys.count > 1 {
            throw ConfigError(
                path: map.child("api_key_file"),
                reason: "a vertex route takes one express key: use api_key_env or api_key_file")
        }
        if let key = apiKeys.first {
            let source = map.keys.first { $0 == "api_key_env" || $0 == "api_key_file" } ?? "api_key_env"
            found.append((source, .expressKey(key)))
        }
        let choices = "service_account_file, token_file, token_env, or api_key_env / api_key_file (express mode)"
        guard let chosen = found.first else {
            throw ConfigError(path: map.path, reason: "a vertex route needs one credential: \(choices)")
        }
        if found.count > 1 {
            throw ConfigError(
                path: map.child(found[1].key),
                reason: "a vertex route takes one credential; \(found[0].key) is already set")
        }

        let project = try map.string("project")
        let location = try map.string("location")
        if let location, !isLocation(location) {
            throw ConfigError(
                path: map.child("location"),
                reason: "expected a location such as europe-west4, us-central1, global, us or eu, got '\(location)'")
        }
        let tokenURL = try httpURL(&map, "token_url") ?? VertexRouteConfig.defaultTokenURL

        if case .expressKey = chosen.credentials {
            if project != nil {
                throw ConfigError(
                    path: map.child("project"), reason: "an express-mode route (API key) takes no project")
            }
            if let location, location != "global" {
                throw ConfigError(
                    path: map.child("location"), reason: "an express-mode route (API key) always uses global")
            }
            return VertexRouteConfig(
                project: "", location: "global", credentials: chosen.credentials, tokenURL: tokenURL)
        }
        guard let project, !project.isEmpty else {
            throw ConfigError(path: map.child("project"), reason: "a vertex route needs a Google Cloud project")
        }
        guard project.allSatisfy({ !$0.isWhitespace && $0 != "/" }) else {
            throw ConfigError(
                path: map.child("project"), reason: "expected a project id such as my-project-123, got '\(project)'")
        }
        guard let location else {
            throw ConfigError(
                path: map.child("location"), reason: "a vertex route needs a location, such as europe-west4 or global")
        }
        return VertexRouteConfig(
            project: project, location: location, credentials: chosen.credentials, tokenURL: tokenURL)
    }

    /// `europe-west4`, `global`, `us`: lowercase letters, digits and dashes, starting with a
    /// letter and not ending with a dash.
    static func isLocation(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        let allowed = text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
        return allowed && ("a"..."z").contains(first) && last != "-" && text.count <= 63
    }

    /// An `http://` or `https://` URL with a host; trailing slashes are trimmed.
    private static func httpURL(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> String? {
        guard var text = try map.string(key) else { return nil }
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil
        else {
            throw ConfigError(path: map.child(key), reason: "expected an http:// or https:// URL, got '\(text)'")
        }
        return text
    }

    private static func apiVersion(
        _ map: inout ConfigMap, default value: String, allowed: [String]? = nil
    ) throws(ConfigError) -> String {
        guard let version = try map.string("api_version") else { return value }
        if let allowed, !allowed.contains(version) {
            throw ConfigError(
                path: map.child("api_version"),
                reason: "expected \(allowed.joined(separator: " or ")), got '\(version)'")
        }
        guard !version.isEmpty, version.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw ConfigError(
                path: map.child("api_version"), reason: "expected a version such as v1beta, got '\(version)'")
        }
        return version
    }

    /// A non-empty list of non-empty strings.
    private static func stringList(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> [String]? {
        guard let items = try map.list(key) else { return nil }
        guard !items.isEmpty else { throw ConfigError(path: map.child(key), reason: "expected at least one entry") }
        var values: [String] = []
        for (i, item) in items.enumerated() {
            guard let value = item.scalarValue, !value.isEmpty else {
                throw ConfigError(path: "\(map.child(key))[\(i)]", reason: "expected a string")
            }
            values.append(value)
        }
        return values
    }

    // MARK: Models

    /// Reads `models`: each model's routes must exist, and no id or alias may name two models.
    static func loadModels(_ items: [ConfigNode], routes: [RouteConfig]) throws(ConfigError) -> [ModelConfig] {
        var models: [ModelConfig] = []
        /// Every client-facing name taken so far, and the model that owns it.
        var names: [String: String] = [:]
        for (i, item) in items.enumerated() {
            var map = try ConfigMap(item, path: "models[\(i)]")
            guard let written = try map.string("id"), !written.isEmpty else {
                throw ConfigError(path: map.child("id"), reason: "a model needs an id")
            }
            // Kept as routing compares them: `models/fast` and `fast` are one id.
            let id = try canonicalModelID(written, path: map.child("id"))
            if let owner = names[id] {
                let reason =
                    owner == id ? "model '\(id)' is defined twice" : "'\(id)' is already an alias of model '\(owner)'"
                throw ConfigError(path: map.child("id"), reason: reason)
            }
            names[id] = id
            var aliases: [String] = []
            for (j, writtenAlias) in (try stringList(&map, "aliases") ?? []).enumerated() {
                let alias = try canonicalModelID(writtenAlias, path: "\(map.child("aliases"))[\(j)]")
                if let owner = names[alias] {
                    let reason =
                        owner == alias
                        ? "'\(alias)' is already the id of a model"
                        : "'\(alias)' is already an alias of model '\(owner)'"
                    throw ConfigError(path: "\(map.child("aliases"))[\(j)]", reason: reason)
                }
                names[alias] = id
                aliases.append(alias)
            }
            let defaultUpstream = try map.string("upstream_model") ?? written
            let modelRoutes: [ModelRoute]
            let single = try map.string("route")
            let list = try map.list("routes")
            switch (single, list) {
            case (let route?, nil):
                try checkRouteExists(route, path: map.child("route"), routes: routes)
                modelRoutes = [ModelRoute(route: route, upstreamModel: defaultUpstream)]
            case (nil, let list?):
                modelRoutes = try loadModelRoutes(
                    list, path: map.child("routes"), defaultUpstream: defaultUpstream, routes: routes)
            case (.some, .some):
                throw ConfigError(path: map.child("routes"), reason: "set route or routes, not both")
            case (nil, nil):
                throw ConfigError(path: map.child("route"), reason: "a model needs a route (or a list of routes)")
            }
            // Upstream model names go into Google URLs; an OpenAI-compatible route sends its own
            // in the body, in whatever form its backend names models.
            for (j, entry) in modelRoutes.enumerated()
            where routes.first(where: { $0.name == entry.route })?.kind != .openai {
                try checkModelID(
                    entry.upstreamModel,
                    path: list == nil ? map.child("upstream_model") : "\(map.child("routes"))[\(j)].upstream_model")
            }
            let hedge = try loadHedge(&map)
            if hedge != nil && modelRoutes.count < 2 {
                throw ConfigError(path: map.child("hedge"), reason: "hedging needs at least two routes")
            }
            let cacheTTL = try map.duration("cache_ttl")
            let tier = try serviceTier(&map)
            try map.finish()
            var model = ModelConfig(id: id, routes: modelRoutes, aliases: aliases, hedge: hedge)
            model.cacheTTL = cacheTTL
            model.serviceTier = tier
            models.append(model)
        }
        return models
    }

    /// Client ids, aliases and Google upstream names follow `ModelID`'s grammar.
    private static func checkModelID(_ text: String, path: String) throws(ConfigError) {
        _ = try canonicalModelID(text, path: path)
    }

    /// A model id the config names, as routing, limits and the ledger see a client's:
    /// `ModelID.description` (`models/gemini-2.5-flash` is `gemini-2.5-flash`).
    static func canonicalModelID(_ text: String, path: String) throws(ConfigError) -> String {
        do throws(FlashgateError) {
            return try ModelID(validating: text).description
        } catch {
            throw ConfigError(path: path, reason: error.message)
        }
    }

    private static func checkRouteExists(_ name: String, path: String, routes: [RouteConfig]) throws(ConfigError) {
        guard routes.contains(where: { $0.name == name }) else {
            throw ConfigError(path: path, reason: "no route is named '\(name)'")
        }
    }

    /// The long form: each item a route name, or `{route, upstream_model, weight}`.
    private static func loadModelRoutes(
        _ items: [ConfigNode], path: String, defaultUpstream: String, routes: [RouteConfig]
    ) throws(ConfigError) -> [ModelRoute] {
        guard !items.isEmpty else { throw ConfigError(path: path, reason: "a model needs at least one route") }
        var result: [ModelRoute] = []
        for (j, item) in items.enumerated() {
            let itemPath = "\(path)[\(j)]"
            let entry: ModelRoute
            let namePath: String
            if let name = item.scalarValue {
                namePath = itemPath
                entry = ModelRoute(route: name, upstreamModel: defaultUpstream)
            } else {
                guard case .map = item else {
                    throw ConfigError(
                        path: itemPath, reason: "expected a route name or a map with route, upstream_model, weight")
                }
                var map = try ConfigMap(item, path: itemPath)
                namePath = map.child("route")
                guard let name = try map.string("route"), !name.isEmpty else {
                    throw ConfigError(path: namePath, reason: "expected the name of a route")
                }
                let upstream = try map.string("upstream_model") ?? defaultUpstream
                let weight = try map.int("weight", in: 1...1000)
                try map.finish()
                entry = ModelRoute(route: name, upstreamModel: upstream, weight: weight)
            }
            try checkRouteExists(entry.route, path: namePath, routes: routes)
            if result.contains(where: { $0.route == entry.route }) {
                throw ConfigError(path: namePath, reason: "route '\(entry.route)' is listed twice for this model")
            }
            result.append(entry)
        }
        return result
    }

    /// `hedge: true` (threshold from the route's observed latency), `false` or absent (off), or `{after: 2s}`.
    private static func loadHedge(_ map: inout ConfigMap) throws(ConfigError) -> HedgeConfig? {
        guard let node = map.node("hedge") else { return nil }
        if case .map = node {
            var hedge = try ConfigMap(node, path: map.child("hedge"))
            guard let after = try hedge.duration("after") else {
                throw ConfigError(
                    path: hedge.child("after"), reason: "expected a duration such as 2s (or write hedge: true)")
            }
            guard after > .zero else { throw ConfigError(path: hedge.child("after"), reason: "must be more than 0s") }
            try hedge.finish()
            return HedgeConfig(after: after)
        }
        switch try map.bool("hedge") {
        case true?: return HedgeConfig(after: nil)
        default: return nil
        }
    }

    // MARK: Retry and breaker

    static func loadRetry(_ map: inout ConfigMap) throws(ConfigError) -> RetryPolicy {
        let standard = RetryPolicy.standard
        let maxAttempts = try map.int("max_attempts", in: 1...10) ?? standard.maxAttempts
        let base = try map.duration("base_delay")
        let max = try map.duration("max_delay")
        let deadline = try map.duration("deadline") ?? standard.deadline
        try map.finish()
        let baseDelay = base ?? standard.baseDelay
        let maxDelay = max ?? standard.maxDelay
        if baseDelay > maxDelay {
            if base != nil {
                throw ConfigError(path: map.child("base_delay"), reason: "must not be longer than max_delay")
            }
            throw ConfigError(
                path: map.child("max_delay"), reason: "must not be shorter than base_delay (default 500ms)")
        }
        guard deadline > .zero else { throw ConfigError(path: map.child("deadline"), reason: "must be more than 0s") }
        return RetryPolicy(maxAttempts: maxAttempts, baseDelay: baseDelay, maxDelay: maxDelay, deadline: deadline)
    }

    static func loadBreaker(_ map: inout ConfigMap) throws(ConfigError) -> CircuitBreakerConfig {
        let standard = CircuitBreakerConfig()
        let config = CircuitBreakerConfig(
            consecutiveFailures: try map.int("consecutive_failures", in: 1...1000) ?? standard.consecutiveFailures,
            window: try map.int("window", in: 1...10_000) ?? standard.window,
            failureRatePercent: try map.int("failure_rate_percent", in: 0...100) ?? standard.failureRatePercent,
            coolDown: try map.duration("cool_down") ?? standard.coolDown,
            halfOpenProbes: try map.int("half_open_probes", in: 1...100) ?? standard.halfOpenProbes)
        try map.finish()
        return config
    }
}

extension FlashgateConfig {
    /// `service_tier: standard | flex | priority`, a default for requests that name no tier.
    static func serviceTier(_ map: inout ConfigMap) throws(ConfigError) -> ServiceTier? {
        guard let text = try map.string("service_tier") else { return nil }
        guard let tier = ServiceTier(rawValue: text), ServiceTier.requestable.contains(tier) else {
            throw ConfigError(path: map.child("service_tier"), reason: "expected standard, flex or priority, got '\(text)'")
        }
        return tier
    }
}
