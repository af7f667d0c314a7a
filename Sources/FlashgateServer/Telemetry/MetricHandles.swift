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
    /// A metric family and up to two label values, in the family's fixed label order.
    struct Key: Hashable, Sendable {
        var family: Family
        var a: String
        var b = ""
    }

    /// The families `PrometheusTelemetry.finished` records into outside a request's own bundle.
    enum Family: UInt8, Hashable, Sendable {
        case rejections, refusals, attempts, retries, aborted
    }

    /// The label values a finished request's own series are drawn from.
    struct RequestKey: Hashable, Sendable {
        var endpoint: String
        var team: String
        var model: String
        var route: String
        var status: String
        var cache: String
    }

    /// The handles of the series one kind of finished request records into (its count, its
    /// durations, its tokens and money), each resolved on its first use: a request looks up one
    /// bundle instead of hashing a label tuple per series (about 1.5k instructions each).
    final class RequestSeries: Sendable {
        enum Slot: Int, CaseIterable {
            case requests, duration, ttfb, upstream, overhead
            case promptTokens, outputTokens, thoughtsTokens, cachedTokens, cost, saved
        }

        private struct Slots {
            var counters = [Counter?](repeating: nil, count: Slot.allCases.count)
            var histograms = [DurationHistogram?](repeating: nil, count: Slot.allCases.count)
        }

        private let slots = Mutex(Slots())

        func counter(_ slot: Slot, make: () -> Counter) -> Counter {
            if let cached = slots.withLock({ $0.counters[slot.rawValue] }) { return cached }
            let counter = make()
            slots.withLock { $0.counters[slot.rawValue] = counter }
            return counter
        }

        func histogram(_ slot: Slot, make: () -> DurationHistogram) -> DurationHistogram {
            if let cached = slots.withLock({ $0.histograms[slot.rawValue] }) { return cached }
            let histogram = make()
            slots.withLock { $0.histograms[slot.rawValue] = histogram }
            return histogram
        }
    }

    private struct Tables {
        var counters: [Key: Counter] = [:]
        var requests: [RequestKey: RequestSeries] = [:]
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

    /// The series bundle for `key`: cached while under `limit`, else a fresh one that resolves
    /// its handles through the registry as a lookup would.
    func request(_ key: RequestKey) -> RequestSeries {
        if let cached = tables.withLock({ $0.requests[key] }) { return cached }
        let series = RequestSeries()
        return tables.withLock { tables in
            if let raced = tables.requests[key] { return raced }
            if tables.requests.count < limit { tables.requests[key] = series }
            return series
        }
    }

    /// Entries cached, counters and request bundles together (for tests).
    var count: Int { tables.withLock { $0.counters.count + $0.requests.count } }
}
