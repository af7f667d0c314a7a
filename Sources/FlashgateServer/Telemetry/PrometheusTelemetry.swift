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
    /// The configuration the closed label sets come from; replaced on reload (counters stay).
    /// Immutable, so a request takes one snapshot (a retain) under the lock.
    final class Labels: Sendable {
        let config: FlashgateConfig
        let teams: Set<String>
        let routes: Set<String>
        let pricedModels: Set<String>

        init(_ config: FlashgateConfig) {
            self.config = config
            teams = Set(config.teams.map(\.id) + [Caller.defaultTeam])
            routes = Set(config.routes.map(\.name))
            pricedModels = Set(config.prices.prefixes)
        }

        func team(_ team: String?) -> String {
            guard let team else { return "none" }
            return teams.contains(team) ? team : "other"
        }

        func model(_ model: String?) -> String {
            guard let model else { return "none" }
            let bare = ModelID.bare(model)
            if let configured = config.model(answering: bare) { return configured.id }
            return pricedModels.contains(bare) ? bare : "other"
        }

        func route(_ route: String?) -> String {
            guard let route else { return "none" }
            return routes.contains(route) ? route : "other"
        }
    }

    let labels: Mutex<Labels>
    private var config: FlashgateConfig { labels.withLock { $0.config } }

    /// Gauge sources, read at scrape time.
    package struct Sources: Sendable {
        package var health: RouteHealth?
        package var accountant: Accountant?
        package var cache: ResponseCacheStore?
        package var connections: ConnectionRegistry?

        package init(
            health: RouteHealth? = nil, accountant: Accountant? = nil, cache: ResponseCacheStore? = nil,
            connections: ConnectionRegistry? = nil
        ) {
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
        labels = Mutex(Labels(config))
        // Families without per-request labels exist from the start, so a scrape before any
        // traffic already shows them.
        _ = registry.makeGauge(descriptor: Family.inFlight)
    }

    /// A reloaded configuration: new teams, models and routes get their own labels from now on.
    package func update(config: FlashgateConfig) { labels.withLock { $0 = Labels(config) } }

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
        "metrics", "other", "edge",
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
                registry.makeGauge(descriptor: Family.breaker, labels: [("route", route.name)])
                    .set(to: value)
            }
        }
        if let accountant = sources.accountant {
            for status in accountant.budgets.all(now: accountant.now) {
                guard let labels = budgetLabels(status.name) else { continue }
                registry.makeGauge(descriptor: Family.budget, labels: labels)
                    .set(to: Self.dollars(status.remaining))
            }
            scrapeLedger(accountant)
        }
        if let cache = sources.cache {
            let stats = cache.stats()
            registry.makeGauge(descriptor: Family.cacheEntries).set(to: Double(stats.entries))
            registry.makeGauge(descriptor: Family.cacheBytes).set(to: Double(stats.bytes))
        }
        if let connections = sources.connections {
            // The scrape itself is a request in progress; it is not counted.
            registry.makeGauge(descriptor: Family.inFlight)
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

    /// The metric families: `flashgate_<noun>_<unit>`, each with its help text.
    enum Family {
        static func make(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "flashgate", metricName: metric, unitName: unit, helpText: help)
        }

        /// Every family, for checks that dashboards and docs name only metrics that exist.
        static var all: [MetricNameDescriptor] {
            [
                requests, duration, ttfb, upstream, overhead, tokens, cost, saved, rejections, refusals, attempts, retries,
                breaker, budget, softExceeded, cacheEntries, cacheBytes, inFlight,
            ] + ledgerFamilies
        }

        /// The exposed name: `flashgate_<metric>_<unit>`.
        static func name(_ descriptor: MetricNameDescriptor) -> String {
            ([descriptor.namespace, descriptor.subsystem, descriptor.metricName, descriptor.unitName].compactMap { $0 })
                .joined(separator: "_")
        }

        static var requests: MetricNameDescriptor {
            make(
                "requests", "total", "Finished requests by endpoint, model, team, route, HTTP status and cache outcome."
            )
        }
        static var duration: MetricNameDescriptor {
            make("request_duration", "seconds", "Time from the request's arrival to the end of its response.")
        }
        static var ttfb: MetricNameDescriptor {
            make("time_to_first_byte", "seconds", "Time from the request's arrival to the response head.")
        }
        static var upstream: MetricNameDescriptor {
            make(
                "upstream_duration", "seconds",
                "Time from the first upstream attempt to the start of the answer, by answering route.")
        }
        static var overhead: MetricNameDescriptor {
            make("overhead", "seconds", "Time to first byte minus upstream time: Flashgate's own share.")
        }
        static var tokens: MetricNameDescriptor {
            make(
                "tokens", "total",
                "Tokens the upstream processed, by kind: prompt, output (without thoughts), thoughts, cached (part of prompt); cache hits add none."
            )
        }
        static var cost: MetricNameDescriptor {
            make("cost_usd", "total", "Dollars charged for requests.")
        }
        static var saved: MetricNameDescriptor {
            make("cache_saved_usd", "total", "Dollars the response cache saved (what cache hits would have cost).")
        }
        static var rejections: MetricNameDescriptor {
            make("rate_limit_rejections", "total", "Requests refused at admission by a rate limit or a budget.")
        }
        static var refusals: MetricNameDescriptor {
            make(
                "refusals", "total",
                "Requests Flashgate refused itself, by reason (rate_limit, budget, auth, bad_input, edge_limit) and team.")
        }
        static var softExceeded: MetricNameDescriptor {
            make(
                "budget_soft_exceeded", "total",
                "Admitted calls that were over a soft budget, or whose reservation took it over, by team and budget.")
        }
        static var attempts: MetricNameDescriptor {
            make(
                "upstream_attempts", "total",
                "Upstream attempts by route and outcome (ok, an HTTP status, unreachable, timeout, invalid, cancelled)."
            )
        }
        static var retries: MetricNameDescriptor {
            make("upstream_retries", "total", "Upstream attempts after a request's first, by the route they went to.")
        }
        static var breaker: MetricNameDescriptor {
            make("breaker", "state", "Circuit breaker state per route: 0 closed, 1 half-open, 2 open.")
        }
        static var budget: MetricNameDescriptor {
            make("budget_remaining", "usd", "Dollars left in each configured budget's current period.")
        }
        static var cacheEntries: MetricNameDescriptor {
            make("cache", "entries", "Entries in the response cache.")
        }
        static var cacheBytes: MetricNameDescriptor {
            make("cache", "bytes", "Bytes stored in the response cache.")
        }
        static var inFlight: MetricNameDescriptor {
            make("requests", "in_flight", "Requests in progress, not counting the scrape itself.")
        }
    }
}
