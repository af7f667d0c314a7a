import Prometheus
import Synchronization

/// Counter and histogram handles, resolved through the registry once per label tuple and reused.
///
/// `PrometheusCollectorRegistry.makeCounter` takes the registry's lock, hashes a label array and
/// validates help text on every call; per request that was ~10 calls and the largest single cost
/// of a cache hit. The registry returns the same object for the same name and labels, so a cached
/// handle counts exactly what a fresh lookup would.
///
/// Invariant: keys are built from label values only, which `PrometheusTelemetry` draws from
/// closed sets (configured ids, status codes, fixed words), so the map stays small; past `limit`
/// entries nothing more is cached and handles are looked up in the registry as before.
final class MetricHandles: Sendable {
    /// A metric family and up to six label values, in the family's fixed label order.
    struct Key: Hashable, Sendable {
        var family: Family
        var a: String
        var b = ""
        var c = ""
        var d = ""
        var e = ""
        var f = ""
    }

    /// The families `PrometheusTelemetry.finished` records into.
    enum Family: UInt8, Hashable, Sendable {
        case requests, duration, ttfb, upstream, overhead, tokens, cost, saved, rejections, refusals
        case attempts, retries
    }

    private struct Tables {
        var counters: [Key: Counter] = [:]
        var histograms: [Key: DurationHistogram] = [:]
    }

    private let tables = Mutex(Tables())
    let limit: Int

    init(limit: Int = 4096) { self.limit = limit }

    /// The cached counter for `key`, or the one `make` resolves (cached while under `limit`).
    func counter(_ key: Key, make: () -> Counter) -> Counter {
        if let cached = tables.withLock({ $0.counters[key] }) { return cached }
        let counter = make()
        tables.withLock { if $0.counters.count < limit { $0.counters[key] = counter } }
        return counter
    }

    /// The cached histogram for `key`, or the one `make` resolves (cached while under `limit`).
    func histogram(_ key: Key, make: () -> DurationHistogram) -> DurationHistogram {
        if let cached = tables.withLock({ $0.histograms[key] }) { return cached }
        let histogram = make()
        tables.withLock { if $0.histograms.count < limit { $0.histograms[key] = histogram } }
        return histogram
    }

    /// Entries cached, counters and histograms together (for tests).
    var count: Int { tables.withLock { $0.counters.count + $0.histograms.count } }
}
