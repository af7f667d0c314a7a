import NIOHTTP1

/// What a request allows the cache to do, from its `Cache-Control` header.
struct CachePolicy: Sendable {
    var lookup = true
    var store = true
    var coalesce = true

    /// `no-store`: neither look up nor store (nor join others); `no-cache`: skip the lookup, still
    /// store. An in-flight answer is fresh, so `no-cache` may still join one.
    init(headers: HTTPHeaders, enabled: Bool) {
        guard enabled else {
            lookup = false
            store = false
            coalesce = false
            return
        }
        for value in headers[canonicalForm: "cache-control"] {
            switch value.lowercased() {
            case "no-store":
                lookup = false
                store = false
                coalesce = false
            case "no-cache":
                lookup = false
            default:
                break
            }
        }
    }

    var bypass: Bool { !lookup && !store && !coalesce }
}
