import FlashgateCore
import FlashgateStorage
import Foundation

/// One budget as the dashboard draws it: its current standing and the period it belongs to.
package struct DashboardBudget: Sendable, Equatable {
    package var status: BudgetStatus
    package var period: BudgetPeriod
    /// The first instant of the current period; nil for `total`.
    package var periodStart: Date?
    /// Under shared budgets: the same period across every host, as Redis last answered.
    package var cluster: ClusterBudget?

    package init(status: BudgetStatus, period: BudgetPeriod, periodStart: Date?, cluster: ClusterBudget? = nil) {
        self.status = status
        self.period = period
        self.periodStart = periodStart
        self.cluster = cluster
    }
}

/// `GET /admin/dashboard.json`: everything the dashboard page draws, computed from ledger rows
/// of one window (and the hourly rollups of it: each stands for its `requests`, at its hour's
/// start, and an hour that overlaps the window counts whole, as refusals do), the budget report and (optionally) route health. Pure: no clock, no ledger, no
/// server, so tests feed it rows directly. Money is a decimal string of dollars with six
/// decimals (exact, from integer micro-dollars); counts are numbers; ratios are numbers with four
/// decimals. No prompts are in the ledger and none are here; keys appear by name only.
package enum DashboardReport {
    package static let defaultHours = 24
    package static let maxHours = 24 * 31
    package static let topCount = 20
    /// The shortest elapsed time a projection extrapolates from, so the first seconds of a period
    /// do not project a single request into an absurd rate.
    package static let minimumProjectionElapsedMs: Int64 = 60_000

    /// 5-minute buckets for windows up to 6 hours, hourly buckets otherwise.
    package static func bucketMs(hours: Int) -> Int64 { hours <= 6 ? 300_000 : 3_600_000 }

    package static func make(
        rows: [SettlementRecord], refusals: [RefusalCount] = [], budgets: [DashboardBudget], nowMs: Int64, hours: Int,
        prices: PriceTable,
        upstreamModel: (String) -> String = { $0 }, routeHealth: JSONValue? = nil
    ) -> JSONValue {
        let hours = min(max(hours, 1), maxHours)
        let windowStart = nowMs - Int64(hours) * 3_600_000
        let rows = rows.filter {
            $0.timeMs >= ($0.isRollup ? windowStart - 3_600_000 + 1 : windowStart) && $0.timeMs <= nowMs
        }.sorted { $0.timeMs < $1.timeMs }
        // Refusals are counted by the hour: every hour that overlaps the window counts whole.
        let refusals = refusals.filter { $0.hourMs > windowStart - 3_600_000 && $0.hourMs <= nowMs }
        let refused = refusals.reduce(0) { $0 + $1.count }
        let bucket = bucketMs(hours: hours)
        let firstBucket = floorDiv(windowStart, bucket) * bucket
        let bucketCount = Int((nowMs - firstBucket) / bucket) + 1

        var total = MicroUSD.zero
        for row in rows { total += row.cost }

        var object: JSONObject = [
            "object": "dashboard",
            "generated_at_ms": JSONValue(Int(nowMs)),
            "generated_at": .string(iso(nowMs)),
            "window": [
                "hours": JSONValue(hours), "start_ms": JSONValue(Int(windowStart)), "end_ms": JSONValue(Int(nowMs)),
                "bucket_seconds": JSONValue(Int(bucket / 1000)),
            ],
            "totals": [
                "requests": JSONValue(requestCount(rows)), "refused": JSONValue(refused),
                "cost_usd": .string(total.dollars),
            ],
        ]
        object["spend_series"] = spendSeries(rows, firstBucket: firstBucket, bucket: bucket, count: bucketCount)
        object["budgets"] = .array(
            budgets.map { budgetItem($0, rows: rows, nowMs: nowMs, windowStart: windowStart, bucket: bucket) })
        object["cache"] = cache(rows, prices: prices, upstreamModel: upstreamModel)
        object["models"] = .array(mix(rows, by: \.model, label: "model"))
        object["routes"] = .array(mix(rows, by: \.route, label: "route"))
        // Spend by the service tier that served (rows that paid nothing upstream have none).
        object["tiers"] = .array(mix(rows.filter { !$0.serviceTier.isEmpty }, by: \.serviceTier, label: "tier"))
        object["errors"] = errors(rows, refusals: refusals)
        object["top_requests"] = .array(top(rows).map(requestItem))
        if let routeHealth { object["route_health"] = routeHealth }
        return .object(object)
    }

    // MARK: - Spend over time

    /// Per team, parallel arrays over `buckets` (each bucket's start in Unix ms): dollars and requests.
    static func spendSeries(_ rows: [SettlementRecord], firstBucket: Int64, bucket: Int64, count: Int) -> JSONValue {
        var byTeam: [String: (cost: [MicroUSD], requests: [Int])] = [:]
        for row in rows {
            let index = min(count - 1, max(0, Int((row.timeMs - firstBucket) / bucket)))
            var series = byTeam[row.team] ?? (Array(repeating: .zero, count: count), Array(repeating: 0, count: count))
            series.cost[index] += row.cost
            series.requests[index] += row.requests
            byTeam[row.team] = series
        }
        let teams = byTeam.map { team, series -> (String, MicroUSD, Int, JSONValue) in
            var cost = MicroUSD.zero
            for c in series.cost { cost += c }
            let requests = series.requests.reduce(0, +)
            let item: JSONValue = [
                "team": .string(team), "cost_usd": .string(cost.dollars), "requests": JSONValue(requests),
                "bucket_cost_usd": .array(series.cost.map { .string($0.dollars) }),
                "bucket_requests": .array(series.requests.map { JSONValue($0) }),
            ]
            return (team, cost, requests, item)
        }
        .sorted { ($1.1, $0.0) < ($0.1, $1.0) }
        return [
            "bucket_seconds": JSONValue(Int(bucket / 1000)),
            "buckets": .array((0..<count).map { JSONValue(Int(firstBucket + Int64($0) * bucket)) }),
            "teams": .array(teams.map(\.3)),
        ]
    }

    // MARK: - Budgets

    /// A budget's standing, the linear projection to its period end, and a burn-down line:
    /// cumulative spend at the end of each bucket in the window that this budget's rows fell in.
    static func budgetItem(_ budget: DashboardBudget, rows: [SettlementRecord], nowMs: Int64, windowStart: Int64, bucket: Int64)
        -> JSONValue
    {
        let status = budget.status
        let spent = status.settled
        let name = status.name
        let owner = name.hasSuffix(":" + budget.period.rawValue)
            ? String(name.dropLast(budget.period.rawValue.count + 1)) : name
        let startMs = budget.periodStart.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        let endMs = status.periodEnd.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        var item: JSONObject = [
            "budget": .string(name), "owner": .string(owner), "period": .string(budget.period.rawValue),
            "period_key": .string(status.key), "mode": .string(status.mode.rawValue),
            "limit_usd": .string(status.limit.dollars), "spent_usd": .string(spent.dollars),
            "reserved_usd": .string(status.reserved.dollars), "remaining_usd": .string(status.remaining.dollars),
            "used_ratio": ratio(spent.value, status.limit.value),
            // A soft budget can go over its limit (a hard one never does): the page marks it.
            "over_limit": .bool(spent > status.limit),
            "period_start_ms": startMs.map { JSONValue(Int($0)) } ?? .null,
            "period_start": startMs.map { .string(iso($0)) } ?? .null,
            "period_end_ms": endMs.map { JSONValue(Int($0)) } ?? .null,
            "period_end": endMs.map { .string(iso($0)) } ?? .null,
        ]
        if let view = budget.cluster {
            item["cluster"] = [
                "settled_usd": .string(view.settled.dollars), "leased_usd": .string(view.leased.dollars),
                "burned_usd": .string(view.burned.dollars), "hosts": JSONValue(view.hosts),
            ]
        }
        if let startMs, let endMs, endMs > startMs {
            let projected = project(spent: spent, startMs: startMs, endMs: endMs, nowMs: nowMs)
            item["projected_usd"] = .string(projected.dollars)
            item["projected_over"] = .bool(projected > status.limit)
        } else {
            item["projected_usd"] = .null
            item["projected_over"] = .bool(false)
        }
        // Rows this budget counted: those that name its period key.
        let mine = rows.filter { $0.budgetKeys.contains(status.key) }
        var inWindow = MicroUSD.zero
        for row in mine { inWindow += row.cost }
        // What was spent in the period before the window (or is not in these rows) is the baseline.
        var running = MicroUSD(max(0, spent.value - inWindow.value))
        let from = max(startMs ?? windowStart, windowStart)
        var points: [JSONValue] = [["t_ms": JSONValue(Int(from)), "spent_usd": .string(running.dollars)]]
        var index = 0
        while index < mine.count {
            let bucketEnd = (floorDiv(mine[index].timeMs, bucket) + 1) * bucket
            while index < mine.count && mine[index].timeMs < bucketEnd {
                running += mine[index].cost
                index += 1
            }
            points.append(["t_ms": JSONValue(Int(min(bucketEnd, nowMs))), "spent_usd": .string(running.dollars)])
        }
        points.append(["t_ms": JSONValue(Int(nowMs)), "spent_usd": .string(spent.dollars)])
        item["burn"] = .array(points)
        return .object(item)
    }

    /// spent × period length ÷ elapsed (at least `minimumProjectionElapsedMs`), rounded up.
    package static func project(spent: MicroUSD, startMs: Int64, endMs: Int64, nowMs: Int64) -> MicroUSD {
        let length = endMs - startMs
        let elapsed = min(length, max(nowMs - startMs, minimumProjectionElapsedMs))
        guard elapsed > 0 else { return spent }
        let product = spent.value.multipliedFullWidth(by: length)
        let (quotient, remainder) = elapsed.dividingFullWidth(product)
        return MicroUSD(quotient + (remainder > 0 ? 1 : 0))
    }

    // MARK: - Cache

    /// Hits cost $0 in the ledger, so what they saved is priced from their recorded tokens with
    /// the price table (the model each row names, resolved to its upstream model); hits of a
    /// model with no price are counted in `unpriced_hits` and add nothing.
    static func cache(_ rows: [SettlementRecord], prices: PriceTable, upstreamModel: (String) -> String) -> JSONValue {
        var counts: [String: Int] = [:]
        var saved = MicroUSD.zero
        var joinedSaved = MicroUSD.zero
        var unpriced = 0
        // Context caches: what creating them and their rent cost, and what cached reads saved.
        var contextCost = MicroUSD.zero
        var contextReadSaving: Int64 = 0
        var cachedTokens = 0
        for row in rows {
            counts[row.cacheStatus, default: 0] += row.requests
            if row.cacheStatus.hasPrefix("context_") { contextCost += row.cost }
            if row.cacheStatus != "hit", row.cacheStatus != "joined", row.cachedTokens > 0,
                let price = prices.price(for: upstreamModel(row.model))
            {
                cachedTokens += row.cachedTokens
                contextReadSaving += Int64(row.cachedTokens) * max(0, price.inputPerMillion - price.cachedInputPerMillion)
            }
            guard row.cacheStatus == "hit" || row.cacheStatus == "joined" else { continue }
            let usage = BillableUsage(
                promptTokens: row.promptTokens, cachedTokens: row.cachedTokens,
                outputTokens: row.outputTokens + row.thoughtsTokens, searchQueries: row.searchQueries)
            guard let cost = prices.cost(usage, model: upstreamModel(row.model)) else {
                if row.cacheStatus == "hit" { unpriced += row.requests }
                continue
            }
            if row.cacheStatus == "hit" { saved += cost } else { joinedSaved += cost }
        }
        let hits = counts["hit"] ?? 0
        let misses = counts["miss"] ?? 0
        let joined = counts["joined"] ?? 0
        let lookups = hits + misses + joined
        return [
            "hits": JSONValue(hits), "misses": JSONValue(misses), "joined": JSONValue(joined),
            "bypass": JSONValue(counts["bypass"] ?? 0), "lookups": JSONValue(lookups),
            "hit_ratio": ratio(Int64(hits), Int64(lookups)),
            "saved_usd": .string(saved.dollars), "joined_saved_usd": .string(joinedSaved.dollars),
            "saved_basis": "price_table", "unpriced_hits": JSONValue(unpriced),
            "context_cached_tokens": JSONValue(cachedTokens), "context_cost_usd": .string(contextCost.dollars),
            "context_saved_usd": .string(MicroUSD(contextReadSaving / 1_000_000 - contextCost.value).dollars),
        ]
    }

    // MARK: - Mix, errors, top requests

    /// Requests, dollars and tokens per model or route, most expensive first.
    static func mix(_ rows: [SettlementRecord], by field: KeyPath<SettlementRecord, String>, label: String) -> [JSONValue] {
        var groups: [String: (requests: Int, cost: MicroUSD, tokens: Int)] = [:]
        for row in rows {
            var group = groups[row[keyPath: field]] ?? (0, .zero, 0)
            group.requests += row.requests
            group.cost += row.cost
            group.tokens += tokens(row)
            groups[row[keyPath: field]] = group
        }
        return groups.sorted { ($1.value.cost, $1.value.requests, $0.key) < ($0.value.cost, $0.value.requests, $1.key) }
            .map { name, group in
                [
                    label: .string(name), "requests": JSONValue(group.requests), "cost_usd": .string(group.cost.dollars),
                    "tokens": JSONValue(group.tokens),
                ]
            }
    }

    /// Requests by outcome, refusals (outcome `refused`, and by reason) among them; error rate =
    /// share not `ok`, refusals included; retry rate = share of the ledger's rows (the requests
    /// that went upstream) with more than one attempt.
    static func errors(_ rows: [SettlementRecord], refusals: [RefusalCount] = []) -> JSONValue {
        var outcomes: [String: Int] = [:]
        var retried = 0
        for row in rows {
            outcomes[row.outcome, default: 0] += row.requests
            retried += row.retried
        }
        var byReason: [String: Int] = [:]
        for refusal in refusals { byReason[refusal.reason, default: 0] += refusal.count }
        let refused = byReason.values.reduce(0, +)
        if refused > 0 { outcomes["refused", default: 0] += refused }
        let requests = requestCount(rows) + refused
        let failed = requests - (outcomes["ok"] ?? 0)
        let byOutcome = outcomes.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
            .map { JSONField($0.key, JSONValue($0.value)) }
        return [
            "requests": JSONValue(requests), "by_outcome": .object(JSONObject(byOutcome)),
            "failed": JSONValue(failed), "error_rate": ratio(Int64(failed), Int64(requests)),
            "refused": JSONValue(refused), "refused_by": refusedBy(byReason),
            "retried": JSONValue(retried), "retry_rate": ratio(Int64(retried), Int64(requestCount(rows))),
        ]
    }

    /// Refusal counts by reason, reasons in a stable order.
    package static func refusedBy(_ counts: [String: Int]) -> JSONValue {
        .object(JSONObject(counts.sorted { $0.key < $1.key }.map { JSONField($0.key, JSONValue($0.value)) }))
    }

    /// The `topCount` most expensive request rows (never rollups), newest first among equals.
    static func top(_ rows: [SettlementRecord]) -> [SettlementRecord] {
        Array(rows.filter { !$0.isRollup }.sorted { ($1.cost, $1.timeMs) < ($0.cost, $0.timeMs) }.prefix(topCount))
    }

    static func requestItem(_ row: SettlementRecord) -> JSONValue {
        [
            "time_ms": JSONValue(Int(row.timeMs)), "time": .string(iso(row.timeMs)), "team": .string(row.team),
            "key": .string(row.key), "model": .string(row.model), "route": .string(row.route),
            "prompt_tokens": JSONValue(row.promptTokens), "cached_tokens": JSONValue(row.cachedTokens),
            "output_tokens": JSONValue(row.outputTokens + row.thoughtsTokens), "tokens": JSONValue(tokens(row)),
            "cost_usd": .string(row.cost.dollars), "cache": .string(row.cacheStatus), "outcome": .string(row.outcome),
            "attempts": JSONValue(max(row.attempts.count, 1)), "service_tier": .string(row.serviceTier),
        ]
    }

    // MARK: - Helpers

    /// How many requests `rows` stand for (a rollup stands for many).
    static func requestCount(_ rows: [SettlementRecord]) -> Int { rows.reduce(0) { $0 + $1.requests } }

    static func tokens(_ row: SettlementRecord) -> Int { row.promptTokens + row.outputTokens + row.thoughtsTokens }

    /// `part / whole` with four decimals (0 when `whole` is 0).
    static func ratio(_ part: Int64, _ whole: Int64) -> JSONValue {
        guard whole > 0 else { return .number("0") }
        return .number(FixedPointText.format((part * 10_000 + whole / 2) / whole, decimals: 4))
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func iso(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
