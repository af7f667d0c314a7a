/// What the response cache did for a generation: a closed set, for the `x-flashgate-cache`
/// header, the request record (access log, metrics) and the ledger row's cache status.
enum CacheOutcome: String, Sendable {
    /// Answered from the cache at $0.
    case hit
    /// Not in the cache: this request led the upstream call (and paid for it).
    case miss
    /// An identical call was in flight: this request followed it at $0.
    case joined
    /// `Cache-Control: no-store`, or a cache that is off: neither looked up nor stored.
    case bypass
}
