import FlashgateCore
import Foundation
import Testing

@testable import FlashgateStorage

/// Retention and rollups on a manual clock: rows past their retention become hourly rollups with
/// the same usage totals, budgets never move, and rollups past theirs are deleted.
@Suite struct LedgerRetentionTests {
    let tmp = TemporaryDirectory("ledger-retention")

    func open() throws -> Ledger { try Ledger.open(directory: tmp.path, maxSizeBytes: 256 << 20) }

    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000
    /// 2026-11-18T20:00:00Z: the ten hours from here cross a UTC midnight.
    static let h0 = Int64(1_795_032_000_000)
    static func h(_ n: Int64, _ minutes: Int64 = 0) -> Int64 { h0 + n * hour + minutes * minute }

    /// A paid row every 7 minutes for ten hours: two teams, three models, two routes and tiers,
    /// some retried, some failed; plus cache hits and joins counted, and refusals.
    func fill(_ ledger: Ledger) async throws {
        var i = 0
        var t = Self.h(0, 3)
        while t < Self.h(10) {
            let id = ledger.nextReservationID()
            var row = SettlementRecord(
                reservationID: id, timeMs: t, team: i % 3 == 0 ? "ads" : "search", key: "k\(i % 2)",
                model: ["flash", "pro", "lite"][i % 3], route: i % 4 == 0 ? "vertex" : "studio", promptTokens: 100 + i,
                cachedTokens: i % 5, outputTokens: 20 + i % 7, thoughtsTokens: i % 3, searchQueries: i % 2,
                cost: MicroUSD(Int64(1_000 + 37 * i)), cacheStatus: "miss", outcome: i % 9 == 0 ? "timeout" : "ok",
                budgetKeys: ["team:\(i % 3 == 0 ? "ads" : "search"):total", "key:k\(i % 2):total"])
            row.serviceTier = i % 5 == 0 ? "flex" : "standard"
            row.attempts = i % 6 == 0 ? ["studio:503:10ms", "vertex:ok:40ms"] : []
            try await ledger.reserve(
                ReservationRecord(
                    id: id, timeMs: t, team: row.team, key: row.key, model: row.model, route: row.route,
                    amount: MicroUSD(9_000), budgetKeys: row.budgetKeys))
            try await ledger.settle(row)
            if i % 4 == 1 {
                var hit = row
                hit.reservationID = nil
                hit.cost = .zero
                hit.cacheStatus = i % 8 == 1 ? "hit" : "joined"
                hit.serviceTier = ""
                hit.attempts = []
                hit.budgetKeys = []
                ledger.countFree(hit)
            }
            if i % 10 == 0 { ledger.countRefusal(timeMs: t, team: row.team, key: row.key, reason: .rateLimit) }
            i += 1
            t += 7 * Self.minute
        }
        await ledger.flushRefusals()
    }

    /// Query ranges: everything, whole hours on both sides of the cutoff, and ranges whose ends
    /// split an hour that is still in rows.
    static let ranges: [(Int64?, Int64?)] = [
        (nil, nil), (h(0), h(10)), (h(2), h(7)), (h(5, 10), h(8, 30)), (h(1), h(5, 20)), (nil, h(3)), (h(4), nil),
        (h(5, 59), h(6, 1)),
    ]

    func usages(_ ledger: Ledger, wholeHoursOnly: Bool = false) throws -> [[UsageRow]] {
        let ranges = Self.ranges.filter { range in
            !wholeHoursOnly || [range.0, range.1].allSatisfy { $0.map { $0 % Self.hour == 0 } ?? true }
        }
        return try ranges.map { try ledger.usage(from: $0.0, to: $0.1, team: nil, key: nil, model: nil) }
            + [try ledger.usage(from: nil, to: nil, team: "ads", key: nil, model: nil)]
            + [try ledger.usage(from: Self.h(1), to: nil, team: nil, key: "k1", model: "pro")]
    }

    @Test func retentionKeepsUsageTotalsAndBudgets() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await fill(ledger)
        let before = try usages(ledger)
        let totals = ledger.totals(prefix: "")
        let rowsBefore = try ledger.requestRows()
        #expect(!totals.isEmpty && rowsBefore.count > 80)

        // Now is 6:20 with rows kept an hour: the cutoff is 5:20 rounded down to 5:00.
        let report = try await ledger.applyRetention(
            nowMs: Self.h(6, 20), rows: .seconds(3600), rollups: .seconds(400 * 86_400))
        let rowsAfter = try ledger.requestRows()
        #expect(report.rowsFolded == rowsBefore.filter { $0.timeMs < Self.h(5) }.count)
        #expect(rowsAfter == rowsBefore.filter { $0.timeMs >= Self.h(5) }, "rows from the cutoff on are untouched")
        #expect(try ledger.rollups(to: Self.h(5)).reduce(0) { $0 + Int($1.counts.requests) } > report.rowsFolded)
        #expect(try usages(ledger) == before, "the same usage over every range")
        #expect(ledger.totals(prefix: "") == totals, "budget totals never change")
        #expect(try ledger.openReservations().isEmpty)

        // A second run finds nothing more; a folded hour split by a range counts whole.
        #expect(
            try await ledger.applyRetention(nowMs: Self.h(6, 20), rows: .seconds(3600), rollups: .seconds(400 * 86_400))
                .rowsFolded == 0)
        let wholeHour = try ledger.usage(from: Self.h(2), to: nil, team: nil, key: nil, model: nil)
        #expect(try ledger.usage(from: Self.h(2, 30), to: nil, team: nil, key: nil, model: nil) == wholeHour)
    }

    /// Names as long as the config allows keep their usage whole through retention: two teams
    /// differing only past the 60th byte stay apart, and a 128-character model keeps its name.
    /// Rollup keys had cut every field at 60 bytes, so `usage --team` of such a team read $0
    /// after retention, and the two teams merged.
    @Test func longNamesKeepTheirUsageThroughRetention() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let stem = String(repeating: "a", count: 60)
        let model = "models/" + String(repeating: "m", count: 128)
        let route = String(repeating: "r", count: 128)
        for (i, team) in ["\(stem)-one", "\(stem)-two"].enumerated() {
            let id = ledger.nextReservationID()
            var row = SettlementRecord(
                reservationID: id, timeMs: Self.h(0, 10 + Int64(i)), team: team, key: String(repeating: "k", count: 64),
                model: model, route: route, promptTokens: 10, cachedTokens: 0, outputTokens: 5, thoughtsTokens: 0,
                searchQueries: 0, cost: MicroUSD(Int64(1_000 * (i + 1))), cacheStatus: "miss", outcome: "ok",
                budgetKeys: ["team:\(team):total"])
            row.serviceTier = "standard"
            try await ledger.reserve(
                ReservationRecord(
                    id: id, timeMs: row.timeMs, team: team, key: row.key, model: model, route: route,
                    amount: MicroUSD(9_000), budgetKeys: row.budgetKeys))
            try await ledger.settle(row)
        }
        func usage(_ team: String) throws -> [UsageRow] {
            try ledger.usage(from: nil, to: nil, team: team, key: nil, model: model)
        }
        let before = (try usage("\(stem)-one"), try usage("\(stem)-two"))
        #expect(before.0.map(\.cost) == [MicroUSD(1_000)] && before.1.map(\.cost) == [MicroUSD(2_000)])
        let report = try await ledger.applyRetention(
            nowMs: Self.h(3), rows: .seconds(3600), rollups: .seconds(400 * 86_400))
        #expect(report.rowsFolded == 2)
        #expect(try usage("\(stem)-one") == before.0)
        #expect(try usage("\(stem)-two") == before.1)
        #expect(try ledger.rollups(to: Self.h(3)).map(\.key.route) == [route, route])
    }

    /// A range bound at the edge of Int64 (`flashgate ledger export --from=-9223372036854775808`)
    /// overflowed rounding down to its hour; it now reads as "from the beginning".
    @Test func rangeBoundsAtTheEdgesOfInt64AreNotATrap() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await fill(ledger)
        _ = try await ledger.applyRetention(nowMs: Self.h(6, 20), rows: .seconds(3600), rollups: .seconds(400 * 86_400))
        let all = try ledger.usageRecords()
        #expect(try ledger.usageRecords(from: .min, to: .max) == all)
        #expect(try ledger.usageRecords(from: .max).isEmpty)
        #expect(LedgerRollup.hour(of: .min) == .min)
        #expect(LedgerRollup.hour(of: .max) == .max - (.max % 3_600_000))
    }

    @Test func smallBatchesGiveTheSameResult() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await fill(ledger)
        // Every row is folded here, so ranges that split an hour count it whole: whole hours only.
        let before = try usages(ledger, wholeHoursOnly: true)
        let commits = ledger.commitCounts.commits
        let report = try await ledger.applyRetention(
            nowMs: Self.h(20), rows: .seconds(3600), rollups: .seconds(400 * 86_400), batch: 7)
        #expect(report.rowsFolded > 80 && report.batches >= report.rowsFolded / 7)
        #expect(ledger.commitCounts.commits - commits >= report.batches, "one commit per batch at least")
        #expect(try ledger.requestRows().isEmpty)
        #expect(try usages(ledger, wholeHoursOnly: true) == before)
    }

    @Test func rollupsAndRefusalCountersPastTheirRetentionAreDeleted() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await fill(ledger)
        let totals = ledger.totals(prefix: "")
        // Rows kept an hour, rollups four hours, now 10:30: rollups of hours before 6:00 go.
        try await ledger.applyRetention(nowMs: Self.h(10, 30), rows: .seconds(3600), rollups: .seconds(4 * 3600))
        #expect(try ledger.rollups().allSatisfy { $0.key.hourMs >= Self.h(6) })
        #expect(try ledger.rollups().contains { $0.key.hourMs == Self.h(6) })
        #expect(try ledger.refusals().allSatisfy { $0.hourMs >= Self.h(6) })
        #expect(try ledger.requestRows().allSatisfy { $0.timeMs >= Self.h(9) })
        #expect(ledger.totals(prefix: "") == totals, "budget totals never change")
        let stats = try ledger.stats()
        #expect(stats.oldestRollupHourMs == Self.h(6) && stats.oldestRowMs.map { $0 >= Self.h(9) } == true)
    }

    @Test func freeEventsAreCountersThatSurviveARestart() async throws {
        let ledger = try open()
        for i in 0..<500 {
            ledger.countFree(
                SettlementRecord(
                    reservationID: nil, timeMs: Self.h(0, Int64(i % 90)), team: "search", key: "ci", model: "flash",
                    route: "studio", promptTokens: 10, outputTokens: 2, cost: .zero,
                    cacheStatus: i % 5 == 0 ? "joined" : "hit",
                    outcome: "ok", budgetKeys: []))
        }
        await ledger.flushCounters()
        #expect(try ledger.requestRows().isEmpty, "counters, not rows")
        #expect(try ledger.rollups().count == 4, "two hours × hit and joined")
        ledger.countFree(
            SettlementRecord(
                reservationID: nil, timeMs: Self.h(0), team: "search", key: "ci", model: "flash", route: "studio",
                cost: .zero, cacheStatus: "hit", outcome: "ok", budgetKeys: []))
        ledger.close()  // a clean stop commits what is counted

        let reopened = try open()
        defer { reopened.close() }
        let usage = try reopened.usage(from: nil, to: nil, team: nil, key: nil, model: nil)
        #expect(usage.count == 1 && usage[0].requests == 501 && usage[0].cacheHits == 401)
        #expect(usage[0].promptTokens == 5_000 && usage[0].cost == .zero)
    }

    @Test func hitsCountedWithinTheDelayCostOneCommitNotOneEach() async throws {
        // A delay no test outlasts: only a report's flush or the stop may commit the counts.
        let ledger = try Ledger.open(
            directory: tmp.path, maxSizeBytes: 256 << 20, options: Ledger.Options(counterDelay: .seconds(3600)))
        let before = ledger.commitCounts.commits
        for i in 0..<500 {
            ledger.countFree(
                SettlementRecord(
                    reservationID: nil, timeMs: Self.h(0, Int64(i % 30)), team: "search", key: "ci", model: "flash",
                    route: "studio", promptTokens: 10, outputTokens: 2, cost: .zero, cacheStatus: "hit", outcome: "ok",
                    budgetKeys: []))
        }
        #expect(ledger.commitCounts.commits == before, "no transaction per hit")
        await ledger.flushCounters()
        #expect(ledger.commitCounts.commits == before + 1, "one transaction for all 500")
        #expect(try ledger.rollups().first?.counts.requests == 500)
        ledger.close()
    }

    @Test func oldCodecRowsStillReadAndFold() async throws {
        let ledger = try open()
        defer { ledger.close() }
        var old = SettlementRecord(
            reservationID: 7, timeMs: Self.h(0, 5), team: "search", key: "ci", model: "flash", route: "studio",
            promptTokens: 1_000, cachedTokens: 3, outputTokens: 50, thoughtsTokens: 9, searchQueries: 2,
            cost: MicroUSD(4_321), cacheStatus: "miss", outcome: "ok", budgetKeys: ["team:search:total"])
        old.attempts = ["studio:503:1ms", "studio:ok:2ms"]
        old.serviceTier = "flex"
        var free = old
        free.reservationID = nil
        free.timeMs = Self.h(0, 6)
        free.cost = .zero
        free.cacheStatus = "hit"
        try ledger.appendLegacyRows([old, free])
        var new = old
        new.reservationID = ledger.nextReservationID()
        new.timeMs = Self.h(1, 1)
        new.outcome = "a_new_outcome"
        try await ledger.settle(new)
        var rows = try ledger.requestRows()
        #expect(rows.count == 3)
        rows[1].reservationID = nil
        #expect(rows == [old, rows[1], new])
        #expect(rows[1].cacheStatus == "hit" && rows[1].cost == .zero)
        #expect(try !ledger.requestRows().isEmpty)
        try await ledger.applyRetention(nowMs: Self.h(3), rows: .seconds(3600), rollups: .seconds(400 * 86_400))
        let usage = try ledger.usage(from: nil, to: nil, team: nil, key: nil, model: nil)
        #expect(
            usage.count == 1 && usage[0].requests == 3 && usage[0].cost == MicroUSD(8_642) && usage[0].cacheHits == 1)
        #expect(
            try ledger.rollups().first { $0.key.cacheStatus == "miss" && $0.key.hourMs == Self.h(0) }?.counts.retried
                == 1)
    }

    @Test func compactRowsAreLessThanHalfTheOldSize() {
        var row = SettlementRecord(
            reservationID: 123_456, timeMs: Self.h(0), team: "search", key: "ci-prod", model: "gemini-2.5-flash",
            route: "aistudio", promptTokens: 1_234, cachedTokens: 512, outputTokens: 321, thoughtsTokens: 150,
            cost: MicroUSD(789), cacheStatus: "miss", outcome: "ok",
            budgetKeys: ["team:search:day:2026-11-18", "key:ci-prod:month:2026-11"])
        row.serviceTier = "standard"
        let old = Ledger.legacyValueSize(row)
        let new = Ledger.compactValueSize(row)
        #expect(new * 2 < old, "\(new) vs \(old) bytes")
    }
}
