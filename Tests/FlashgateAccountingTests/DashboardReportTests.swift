@testable import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateAccounting

/// `DashboardReport` on hand-made rows (no server). `DashboardTests` in the server's tests runs
/// `/admin/dashboard.json` and `/dashboard` on a real gateway.
@Suite struct DashboardReportTests {
    /// 2026-11-26T12:00:00Z.
    static let now: Int64 = 1_795_694_400_000
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000

    static func row(
        _ minutesAgo: Int64, team: String = "search", key: String = "ci", model: String = "gemini-3.5-flash",
        route: String = "studio", cost: Int64 = 100, cache: String = "miss", outcome: String = "ok",
        attempts: [String] = [], budgetKeys: [String] = [], prompt: Int = 5, output: Int = 3
    ) -> SettlementRecord {
        var r = SettlementRecord(
            reservationID: nil, timeMs: now - minutesAgo * minute, team: team, key: key, model: model, route: route,
            promptTokens: prompt, outputTokens: output, cost: MicroUSD(cost), cacheStatus: cache, outcome: outcome,
            budgetKeys: budgetKeys)
        r.attempts = attempts
        return r
    }

    static func report(_ rows: [SettlementRecord], budgets: [DashboardBudget] = [], hours: Int = 24) -> JSONValue {
        DashboardReport.make(rows: rows, budgets: budgets, nowMs: now, hours: hours, prices: PriceTable())
    }

    @Test func spendIsShownByTheTierThatServed() {
        var flex = Self.row(3, cost: 40)
        flex.serviceTier = "flex"
        var standard = Self.row(2, cost: 100)
        standard.serviceTier = "standard"
        let hit = Self.row(1, cost: 0, cache: "hit")
        let r = Self.report([flex, standard, hit])
        let tiers = r["tiers"]?.arrayValue ?? []
        #expect(tiers.count == 2)
        #expect(tiers.first?["tier"]?.stringValue == "standard" && tiers.first?["cost_usd"]?.stringValue == "0.000100")
        #expect(tiers.last?["tier"]?.stringValue == "flex" && tiers.last?["requests"]?.intValue == 1)
        let top = r["top_requests"]?.arrayValue ?? []
        #expect(top.first?["service_tier"]?.stringValue == "standard")
    }

    @Test func emptyLedgerGivesZerosAndEmptyLists() {
        let r = Self.report([])
        #expect(r["totals"]?["requests"]?.intValue == 0)
        #expect(r["totals"]?["cost_usd"]?.stringValue == "0.000000")
        #expect(r["spend_series"]?["teams"]?.arrayValue?.isEmpty == true)
        #expect(r["spend_series"]?["buckets"]?.arrayValue?.count == 25)
        #expect(r["cache"]?["hit_ratio"] == .number("0"))
        #expect(r["errors"]?["retry_rate"] == .number("0"))
        #expect(r["top_requests"]?.arrayValue?.isEmpty == true)
        #expect(r["models"]?.arrayValue?.isEmpty == true)
        #expect(r["budgets"]?.arrayValue?.isEmpty == true)
    }

    @Test func bucketsAreFiveMinutesUpToSixHoursThenHourly() {
        #expect(DashboardReport.bucketMs(hours: 6) == 300_000)
        #expect(DashboardReport.bucketMs(hours: 7) == 3_600_000)
        let rows = [
            Self.row(1, cost: 10), Self.row(2, cost: 20), Self.row(7, team: "ads", cost: 5), Self.row(59, cost: 1),
            Self.row(61, cost: 1000),  // outside a 1 h window
        ]
        let short = Self.report(rows, hours: 1)
        #expect(short["window"]?["bucket_seconds"]?.intValue == 300)
        let buckets = short["spend_series"]?["buckets"]?.arrayValue ?? []
        // 12:00 is on a bucket edge: 11:00 … 12:00 is 13 buckets, the last holding "now".
        #expect(buckets.count == 13)
        #expect(buckets.first?.intValue == Int(Self.now - Self.hour))
        let teams = short["spend_series"]?["teams"]?.arrayValue ?? []
        #expect(teams.map { $0["team"]?.stringValue } == ["search", "ads"])  // most expensive first
        let search = teams[0]
        #expect(search["cost_usd"]?.stringValue == "0.000031")
        #expect(search["requests"]?.intValue == 3)
        let costs = search["bucket_cost_usd"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(costs[0] == "0.000001")  // 11:01
        #expect(costs[11] == "0.000030")  // 11:58 and 11:59 share 11:55–12:00
        #expect(teams[1]["bucket_requests"]?[10]?.intValue == 1)  // 11:53
        #expect(short["totals"]?["requests"]?.intValue == 4)

        let long = Self.report(rows, hours: 48)
        #expect(long["window"]?["bucket_seconds"]?.intValue == 3600)
        #expect(long["spend_series"]?["buckets"]?.arrayValue?.count == 49)
        #expect(long["totals"]?["requests"]?.intValue == 5)
    }

    @Test func budgetProjectionIsLinearToThePeriodEnd() throws {
        // A day budget, six hours into the day, $3 spent: $12 by midnight, over a $10 limit.
        let day = BudgetPeriod.day
        let utc = TimeZone(identifier: "UTC")!
        let noon = Date(timeIntervalSince1970: Double(Self.now) / 1000)
        let start = try #require(day.start(at: noon, timeZone: utc))
        let end = try #require(day.end(after: noon, timeZone: utc))
        #expect(end.timeIntervalSince(start) == 86_400)
        let at = Int64(start.timeIntervalSince1970 * 1000) + 6 * Self.hour
        #expect(DashboardReport.project(spent: MicroUSD(3_000_000), startMs: Int64(start.timeIntervalSince1970 * 1000),
            endMs: Int64(end.timeIntervalSince1970 * 1000), nowMs: at) == MicroUSD(12_000_000))
        // The first seconds of a period extrapolate from at least one minute.
        #expect(DashboardReport.project(spent: MicroUSD(1), startMs: 0, endMs: 86_400_000, nowMs: 1) == MicroUSD(1440))

        let key = "team:search:day:2026-11-26"
        let status = BudgetStatus(
            name: "team:search:day", key: key, mode: .hard, limit: MicroUSD(1_000), settled: MicroUSD(600),
            reserved: .zero, remaining: MicroUSD(400), periodEnd: Date(timeIntervalSince1970: Double(Self.now + 12 * Self.hour) / 1000))
        let budget = DashboardBudget(
            status: status, period: .day, periodStart: Date(timeIntervalSince1970: Double(Self.now - 12 * Self.hour) / 1000))
        let rows = [Self.row(90, cost: 100, budgetKeys: [key]), Self.row(30, cost: 200, budgetKeys: [key]), Self.row(20, cost: 999)]
        let item = try #require(Self.report(rows, budgets: [budget])["budgets"]?[0])
        #expect(item["budget"]?.stringValue == "team:search:day")
        #expect(item["owner"]?.stringValue == "team:search")
        #expect(item["period"]?.stringValue == "day")
        #expect(item["spent_usd"]?.stringValue == "0.000600")
        #expect(item["limit_usd"]?.stringValue == "0.001000")
        #expect(item["remaining_usd"]?.stringValue == "0.000400")
        #expect(item["projected_usd"]?.stringValue == "0.001200")  // half the day gone
        #expect(item["projected_over"] == .bool(true))
        #expect(item["period_start"]?.stringValue == "2026-11-26T00:00:00.000Z")
        #expect(item["period_end"]?.stringValue == "2026-11-27T00:00:00.000Z")
        // Burn-down: $300 µ spent before the window's rows, then +100, +200, ending at the settled total.
        let burn = item["burn"]?.arrayValue?.compactMap { $0["spent_usd"]?.stringValue } ?? []
        #expect(burn == ["0.000300", "0.000400", "0.000600", "0.000600"])

        let total = DashboardBudget(
            status: BudgetStatus(
                name: "key:ci:total", key: "key:ci:total", mode: .soft, limit: MicroUSD(5), settled: .zero, reserved: .zero,
                remaining: MicroUSD(5), periodEnd: nil),
            period: .total, periodStart: nil)
        let open = try #require(Self.report([], budgets: [total])["budgets"]?[0])
        #expect(open["projected_usd"] == .null)
        #expect(open["owner"]?.stringValue == "key:ci")
    }

    @Test func cacheRatioAndSavingsArePricedFromTokens() {
        let rows = [
            Self.row(5, cost: 63), Self.row(4, cost: 0, cache: "hit"), Self.row(3, cost: 0, cache: "hit"),
            Self.row(2, cost: 0, cache: "joined"), Self.row(1, cost: 70, cache: "bypass"),
            Self.row(1, model: "no-such-model", cost: 0, cache: "hit"),
        ]
        let cache = Self.report(rows)["cache"]
        #expect(cache?["hits"]?.intValue == 3)
        #expect(cache?["misses"]?.intValue == 1)
        #expect(cache?["joined"]?.intValue == 1)
        #expect(cache?["bypass"]?.intValue == 1)
        #expect(cache?["hit_ratio"] == .number("0.6000"))  // 3 of 5 lookups
        // 5 prompt + 3 output tokens of gemini-3.5-flash cost 35 µ$ each at the standard tier
        // (see the row helper); the unpriced model adds nothing.
        #expect(cache?["saved_usd"]?.stringValue == "0.000070")
        #expect(cache?["joined_saved_usd"]?.stringValue == "0.000035")
        #expect(cache?["unpriced_hits"]?.intValue == 1)
        #expect(cache?["saved_basis"]?.stringValue == "price_table")
    }

    @Test func topRequestsAreTheTwentyMostExpensiveNewestFirstAmongEquals() {
        var rows = (0..<30).map { Self.row(Int64(60 - $0), cost: Int64($0 % 10) * 10) }
        rows.append(Self.row(0, key: "", model: "gemini-3-pro", route: "vertex", cost: 5_000))
        let top = Self.report(rows)["top_requests"]?.arrayValue ?? []
        #expect(top.count == 20)
        #expect(top[0]["cost_usd"]?.stringValue == "0.005000")
        #expect(top[0]["route"]?.stringValue == "vertex")
        #expect(top[0]["key"]?.stringValue == "")
        #expect(top[1]["cost_usd"]?.stringValue == "0.000090")
        // Three rows cost 90 µ$: the newest (29 → 31 minutes ago) comes first.
        #expect(top[1]["time_ms"]?.intValue == Int(Self.now - 31 * Self.minute))
        #expect(top[2]["time_ms"]?.intValue == Int(Self.now - 41 * Self.minute))
        let costs = top.compactMap { $0["cost_usd"]?.stringValue }
        #expect(costs == costs.sorted(by: >))
        #expect(top[0]["tokens"]?.intValue == 8)
    }

    @Test func modelRouteMixAndErrorRates() {
        let rows = [
            Self.row(5, model: "gemini-3-pro", route: "vertex", cost: 500, outcome: "ok", attempts: ["studio:503:12ms", "vertex:ok:40ms"]),
            Self.row(4, cost: 100), Self.row(3, cost: 100),
            Self.row(2, cost: 0, outcome: "upstream_error", attempts: ["studio:500:3ms", "studio:500:9ms"]),
            Self.row(1, cost: 50, outcome: "incomplete", attempts: ["studio:ok:30ms"]),
        ]
        let r = Self.report(rows)
        let models = r["models"]?.arrayValue ?? []
        #expect(models.map { $0["model"]?.stringValue } == ["gemini-3-pro", "gemini-3.5-flash"])
        #expect(models[1]["requests"]?.intValue == 4)
        #expect(models[1]["cost_usd"]?.stringValue == "0.000250")
        let routes = r["routes"]?.arrayValue ?? []
        #expect(routes.map { $0["route"]?.stringValue } == ["vertex", "studio"])
        let errors = r["errors"]
        #expect(errors?["requests"]?.intValue == 5)
        #expect(errors?["by_outcome"]?["ok"]?.intValue == 3)
        #expect(errors?["by_outcome"]?["upstream_error"]?.intValue == 1)
        #expect(errors?["error_rate"] == .number("0.4000"))
        #expect(errors?["retried"]?.intValue == 2)
        #expect(errors?["retry_rate"] == .number("0.4000"))
    }

    @Test func refusalsAreRequestsThatFailedByReason() {
        let refusals = [
            RefusalCount(hourMs: Self.now, team: "search", key: "ci", reason: "budget", count: 3),
            RefusalCount(hourMs: Self.now - Self.hour, team: "", key: "", reason: "auth", count: 1),
            // Before the window: not counted.
            RefusalCount(hourMs: Self.now - 48 * Self.hour, team: "search", key: "ci", reason: "budget", count: 100),
        ]
        let r = DashboardReport.make(
            rows: [Self.row(5)], refusals: refusals, budgets: [], nowMs: Self.now, hours: 24, prices: PriceTable())
        #expect(r["totals"]?["requests"]?.intValue == 1)
        #expect(r["totals"]?["refused"]?.intValue == 4)
        let errors = r["errors"]
        #expect(errors?["requests"]?.intValue == 5)
        #expect(errors?["failed"]?.intValue == 4)
        #expect(errors?["error_rate"] == .number("0.8000"))
        #expect(errors?["refused_by"]?["budget"]?.intValue == 3)
        #expect(errors?["refused_by"]?["auth"]?.intValue == 1)
        #expect(errors?["by_outcome"]?["refused"]?.intValue == 4)
        // Everything refused is 100 % errors, not 0 %.
        let onlyRefused = DashboardReport.make(
            rows: [], refusals: refusals, budgets: [], nowMs: Self.now, hours: 1, prices: PriceTable())
        #expect(onlyRefused["errors"]?["error_rate"] == .number("1.0000"))
        #expect(onlyRefused["totals"]?["refused"]?.intValue == 4)
    }

    @Test func aBudgetOverItsSoftLimitIsMarked() throws {
        let status = BudgetStatus(
            name: "team:search:day", key: "team:search:day:2026-11-26", mode: .soft, limit: MicroUSD(100),
            settled: MicroUSD(150), reserved: .zero, remaining: .zero, periodEnd: nil)
        let budget = DashboardBudget(status: status, period: .day, periodStart: nil)
        let r = Self.report([], budgets: [budget])
        #expect(r["budgets"]?[0]?["over_limit"] == .bool(true))
        var under = budget
        under.status.settled = MicroUSD(100)
        #expect(Self.report([], budgets: [under])["budgets"]?[0]?["over_limit"] == .bool(false))
    }
}
