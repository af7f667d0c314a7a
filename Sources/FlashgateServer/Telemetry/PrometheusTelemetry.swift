import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import Foundation
import Prometheus
import Synchronization

/// The metrics behind `GET /metrics`: a `TelemetrySink` that turns each finished request into
/// Prometheus counters and histograms, plus gauges (breakers, budgets, cache, in-flight) read
/// fresh at every scrape.
///
/// Each Runtime owns one `PrometheusCollectorRegistry`, and every metric is made through that
/// registry's own API. The global swift-metrics `MetricsSystem` is never bootstrapped: it can be
/// bootstrapped once per process, so several Flashgates in one process (the tests) would share
/// or fight over it. Using the registry directly (rather than swift-metrics' `factory:` inits
/// over a `PrometheusMetricsFactory`) also gives every family its `# HELP` text and exact
/// buckets; the factory path registers every metric with an empty help text.
///
/// Invariant: label values come only from closed sets — configured team ids, configured model ids
/// (or `other`), configured route names, endpoint labels, HTTP status codes, cache outcomes,
/// attempt labels, budget periods — never raw paths, keys or messages.
package final class PrometheusTelemetry: TelemetrySink {
    package let registry = PrometheusCollectorRegistry()
    /// Handles for `finished`, one registry lookup per label tuple.
    let handles = MetricHandles()
    /// The ledger's commit count at the last scrape (`PrometheusTelemetry+Ledger`).
    let ledgerCommitsSeen = Mutex(0)
    /// The ledger's lease-wait count at the last scrape.
    let leaseWaitsSeen = Mutex(0)
    /// Redis commands and failures already counted (`PrometheusTelemetry+Shared`).
    let sharedSeen = Mutex((commands: Int64(0), failures: Int64(0)))
    /// The closed label sets (`MetricLabels`), from the running configuration; replaced on
    /// reload (counters stay). Immutable, so a request takes one snapshot (a retain) under the lock.
    let labels: Mutex<MetricLabels>
    private var config: FlashgateConfig { labels.withLock { $0.config } }

    /// Gauge sources, read at scrape time.
    package struct Sources: Sendable {
        package var health: RouteHealth?
        package var accountant: Accountant?
        package var cache: ResponseCacheStore?
        package var connections: ConnectionRegistry?
        /// Context caches: live ones and what they read, cost and saved.
        package var contextCaches: ContextCacheBook?

        package init(
            health: RouteHealth? = nil, accountant: Accountant? = nil, cache: ResponseCacheStore? = nil,
            connections: ConnectionRegistry? = nil, contextCaches: ContextCacheBook? = nil
        ) {
            self.contextCaches = contextCaches
            self.health = health
            self.accountant = accountant
            self.cache = cache
            self.connections = connections
        }
    }

    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(120),
    ]
    static let overheadBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1),
    ]

    package init(config: FlashgateConfig) {
        labels = Mutex(MetricLabels(config))
        // Families without per-request labels exist from the start, so a scrape before any
        // traffic already shows them.
        _ = registry.makeGauge(descriptor: Family.inFlight.descriptor)
    }

    /// A reloaded configuration: new teams, models and routes get their own labels from now on.
    package func update(config: FlashgateConfig) { labels.withLock { $0 = MetricLabels(config) } }

    // MARK: Label values

    /// A configured team id, or `other`.
    func teamLabel(_ team: String?) -> String { labels.withLock { $0.team(team) } }

    /// The configured model a client id names (aliases fold into their model's id), a priced
    /// model id, or `other`.
    func modelLabel(_ model: String?) -> String { labels.withLock { $0.model(model) } }

    func routeLabel(_ route: String?) -> String { labels.withLock { $0.route(route) } }

    /// An HTTP status code is a closed set; anything odd becomes `0`.
    static func statusLabel(_ status: Int) -> String { (100...599).contains(status) ? String(status) : "0" }

    static func cacheLabel(_ cache: String?) -> String {
        guard let cache, ["hit", "miss", "joined", "bypass"].contains(cache) else { return "none" }
        return cache
    }

    static let endpoints: Set<String> = [
        "chat", "responses", "embeddings", "generate", "stream", "count_tokens", "embed", "models", "health", "admin", "dashboard",
        "metrics", "other", "edge", "cached_contents",
    ]

    static func endpointLabel(_ endpoint: String) -> String { endpoints.contains(endpoint) ? endpoint : "other" }

    // MARK: Per request

    static func outcomeLabel(_ attempt: AttemptRecord) -> String {
        if case .status(let code) = attempt.outcome { return statusLabel(code) }
        return attempt.label
    }

    static func dollars(_ amount: MicroUSD) -> Double { Double(amount.value) / 1_000_000 }

    // MARK: Scrape

    /// Refreshes the gauges, then renders every family in the text format 0.0.4.
    package func scrape(_ sources: Sources) -> [UInt8] {
        if let health = sources.health {
            let now = health.clock.now()
            for route in config.routes {
                let value: Double =
                    switch health.breakers.state(route.name, now: now) {
                    case .closed: 0
                    case .halfOpen: 1
                    case .open: 2
                    }
                registry.makeGauge(descriptor: Family.breaker.descriptor, labels: [("route", route.name)])
                    .set(to: value)
            }
        }
        if let accountant = sources.accountant {
            for status in accountant.budgets.all(now: accountant.now) {
                guard let labels = budgetLabels(status.name) else { continue }
                registry.makeGauge(descriptor: Family.budget.descriptor, labels: labels)
                    .set(to: Self.dollars(status.remaining))
            }
            scrapeLedger(accountant)
            scrapeShared(accountant)
        }
        if let cache = sources.cache {
            let stats = cache.stats()
            registry.makeGauge(descriptor: Family.cacheEntries.descriptor).set(to: Double(stats.entries))
            registry.makeGauge(descriptor: Family.cacheBytes.descriptor).set(to: Double(stats.bytes))
        }
        if let book = sources.contextCaches {
            let money = book.money
            registry.makeGauge(descriptor: Family.contextCaches.descriptor).set(to: Double(book.snapshot.live))
            registry.makeGauge(descriptor: Family.contextReads.descriptor).set(to: Double(money.readTokens))
            registry.makeGauge(descriptor: Family.contextStorage.descriptor).set(to: Self.dollars(money.storage))
            registry.makeGauge(descriptor: Family.contextSaved.descriptor).set(to: Self.dollars(money.netSaved))
        }
        if let connections = sources.connections {
            // The scrape itself is a request in progress; it is not counted.
            registry.makeGauge(descriptor: Family.inFlight.descriptor)
                .set(to: Double(max(0, connections.inFlightRequests - 1)))
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }

    /// `team:<id>:<period>` → team `<id>`, budget `<period>`; `key:<name>:<period>` → the key's
    /// team, budget `key:<name>:<period>`. Both from configuration only.
    func budgetLabels(_ name: String) -> [(String, String)]? {
        guard let colon = name.lastIndex(of: ":") else { return nil }
        let owner = name[..<colon]
        let period = String(name[name.index(after: colon)...])
        if owner.hasPrefix("team:") {
            return [("team", String(owner.dropFirst(5))), ("budget", period)]
        }
        if owner.hasPrefix("key:") {
            let key = String(owner.dropFirst(4))
            guard let team = config.keys.first(where: { $0.name == key })?.team else { return nil }
            return [("team", team), ("budget", name)]
        }
        return nil
    }

    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The metric families (names, units and help texts) are Core's `MetricFamily`: the exposed
    /// names are a contract the `top` screen, the Grafana dashboard and the docs read too.
    typealias Family = MetricFamily
}

extension MetricFamily {
    /// The family as the registry names it: namespace `flashgate`, its metric, unit and help.
    var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "flashgate", metricName: metric, unitName: unit, helpText: help)
    }
}
