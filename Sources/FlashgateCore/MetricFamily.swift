/// A metric family Flashgate exposes at `/metrics`: `flashgate_<metric>_<unit>`, with its help
/// text. The names are a contract: the `top` screen, the Grafana dashboard in `deploy/` and the
/// README read them, and a test checks that they name only families that exist.
package struct MetricFamily: Sendable, Hashable {
    package let metric: String
    package let unit: String
    package let help: String

    init(_ metric: String, _ unit: String, _ help: String) {
        self.metric = metric
        self.unit = unit
        self.help = help
    }

    /// The exposed name: `flashgate_<metric>_<unit>`.
    package var name: String { "flashgate_\(metric)_\(unit)" }

    /// Every family, the ledger's last.
    package static let all: [MetricFamily] = [
        requests, aborted, duration, ttfb, upstream, overhead, tokens, cost, saved, rejections, refusals, softExceeded,
        attempts, retries, breaker, budget, cacheEntries, cacheBytes, inFlight, ledgerBytes, ledgerMapBytes,
        ledgerFull, leases, leasedUSD, ledgerQueue, ledgerCommits, leaseWaits, ledgerRows, ledgerRollups, sharedRedisUp, sharedRedisCommands,
        sharedRedisFailures, clusterSettled, clusterBurned, contextCaches, contextReads, contextStorage, contextSaved,
    ]

    package static let contextCaches = MetricFamily(
        "context_caches", "live", "Gemini context caches Flashgate holds now, automatic and client-created.")
    package static let contextReads = MetricFamily(
        "context_cache_read", "tokens", "Prompt tokens read from automatic context caches since the start.")
    package static let contextStorage = MetricFamily(
        "context_cache_storage", "usd", "Dollars of context-cache rent settled since the start.")
    package static let contextSaved = MetricFamily(
        "context_cache_net_saved", "usd",
        "Dollars automatic context caches saved since the start: reads at the input minus the cached rate, less creation and rent.")

    package static let requests = MetricFamily(
        "requests", "total", "Finished requests by endpoint, model, team, route, HTTP status and cache outcome.")
    package static let aborted = MetricFamily(
        "requests_aborted", "total",
        "Finished requests whose response did not end whole (the client left, or the answer was cut), by endpoint and team; requests_total counts them too, under the status they started with.")
    package static let duration = MetricFamily(
        "request_duration", "seconds", "Time from the request's arrival to the end of its response.")
    package static let ttfb = MetricFamily(
        "time_to_first_byte", "seconds", "Time from the request's arrival to the response head.")
    package static let upstream = MetricFamily(
        "upstream_duration", "seconds",
        "Time from the first upstream attempt to the start of the answer, by answering route.")
    package static let overhead = MetricFamily(
        "overhead", "seconds",
        "Time to first byte minus the upstream's own time (libcurl's, for a call answered at its first attempt): Flashgate's share.")
    package static let tokens = MetricFamily(
        "tokens", "total",
        "Tokens the upstream processed, by kind: prompt, output (without thoughts), thoughts, cached (part of prompt); cache hits add none.")
    package static let cost = MetricFamily("cost_usd", "total", "Dollars charged for requests.")
    package static let saved = MetricFamily(
        "cache_saved_usd", "total", "Dollars the response cache saved (what cache hits would have cost).")
    package static let rejections = MetricFamily(
        "rate_limit_rejections", "total", "Requests refused at admission by a rate limit or a budget.")
    package static let refusals = MetricFamily(
        "refusals", "total",
        "Requests Flashgate refused itself, by reason (rate_limit, budget, auth, bad_input, edge_limit) and team.")
    package static let softExceeded = MetricFamily(
        "budget_soft_exceeded", "total",
        "Admitted calls that were over a soft budget, or whose reservation took it over, by team and budget.")
    package static let attempts = MetricFamily(
        "upstream_attempts", "total",
        "Upstream attempts by route and outcome (ok, an HTTP status, unreachable, timeout, invalid, cancelled).")
    package static let retries = MetricFamily(
        "upstream_retries", "total", "Upstream attempts after a request's first, by the route they went to.")
    package static let breaker = MetricFamily(
        "breaker", "state", "Circuit breaker state per route: 0 closed, 1 half-open, 2 open.")
    package static let budget = MetricFamily(
        "budget_remaining", "usd", "Dollars left in each configured budget's current period.")
    package static let cacheEntries = MetricFamily("cache", "entries", "Entries in the response cache.")
    package static let cacheBytes = MetricFamily("cache", "bytes", "Bytes stored in the response cache.")
    package static let inFlight = MetricFamily(
        "requests", "in_flight", "Requests in progress, not counting the scrape itself.")
    // The ledger's.
    package static let ledgerBytes = MetricFamily(
        "ledger", "bytes", "Bytes the usage ledger uses (pages in use less freed pages).")
    package static let ledgerMapBytes = MetricFamily(
        "ledger_map", "bytes", "The usage ledger's map size (ledger.max_size): the most it can hold.")
    package static let ledgerFull = MetricFamily(
        "ledger_full", "state", "0 room, 1 over 80 % used (warning), 2 paid calls refused (90 %, or the map was full).")
    package static let leases = MetricFamily(
        "ledger_leases", "open", "Budget leases open (granted ahead of need, not yet settled or handed back).")
    package static let leasedUSD = MetricFamily("ledger_leased", "usd", "Dollars held by open budget leases.")
    package static let ledgerQueue = MetricFamily(
        "ledger_queue", "writes", "Ledger writes queued or being committed by the writer thread.")
    package static let ledgerRows = MetricFamily(
        "ledger", "rows", "Per-request rows the usage ledger holds (retention folds older ones into rollups).")
    package static let ledgerRollups = MetricFamily(
        "ledger", "rollups", "Hourly rollups the usage ledger holds (folded rows and $0 event counts).")
    package static let ledgerCommits = MetricFamily(
        "ledger_commits", "total", "Group-commit transactions the ledger's writer made since start.")
    package static let leaseWaits = MetricFamily(
        "ledger_lease_waits", "total", "Paid calls that waited for a budget lease grant's commit before going upstream.")
    // Shared budgets (`shared:`).
    package static let sharedRedisUp = MetricFamily(
        "shared_redis", "up", "1 when the last command reached the shared-budget Redis, 0 while it is unreachable.")
    package static let sharedRedisCommands = MetricFamily(
        "shared_redis_commands", "total", "Round trips to the shared-budget Redis (lease scripts, AUTH, SELECT).")
    package static let sharedRedisFailures = MetricFamily(
        "shared_redis_failures", "total", "Redis round trips that failed or were refused during reconnect backoff.")
    package static let clusterSettled = MetricFamily(
        "budget_cluster_settled", "usd", "Settled spend of a budget's current period across every host sharing it.")
    package static let clusterBurned = MetricFamily(
        "budget_cluster_burned", "usd", "Leases of hosts gone silent, counted as spent until they reconcile.")
}
