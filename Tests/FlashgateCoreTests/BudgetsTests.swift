import Foundation
import Testing

@testable import FlashgateCore

@Suite struct BudgetsTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T...Z
    let utc = TimeZone(identifier: "UTC")!

    func budgets(_ mode: AccountingConfig.Mode = .strict, team: [BudgetConfig], key: [BudgetConfig] = []) -> Budgets {
        var t = TeamConfig(id: "a")
        t.budgets = team
        var k = KeyConfig(name: "k", team: "a", hashHex: String(repeating: "1", count: 64))
        k.budgets = key
        return Budgets(teams: [t], keys: [k], mode: mode, timeZone: utc)
    }

    func reservation(_ d: BudgetDecision) -> Reservation? { if case .admit(let r) = d { r } else { nil } }

    @Test func hardBudgetRejectsWhatDoesNotFitAndNamesIt() throws {
        let b = budgets(team: [BudgetConfig(period: .month, limit: MicroUSD(1_000))])
        let r = try #require(reservation(b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(600), now: now)))
        #expect(r.budgetKeys == ["team:a:month:2026-11"])
        guard case .reject(let name, let limit, let remaining, let retry) =
            b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(401), now: now)
        else { Issue.record("expected a rejection"); return }
        #expect(name == "team:a:month" && limit == MicroUSD(1_000) && remaining == MicroUSD(400))
        let end = BudgetPeriod.month.end(after: now, timeZone: utc)!
        #expect(retry == .seconds(Int64(end.timeIntervalSince(now).rounded(.up))))
        #expect(reservation(b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(400), now: now)) != nil)
    }

    /// A caller's lines are remembered while their periods' windows hold: the next day, a clock
    /// set back, a reload each get lines of their own.
    @Test func rememberedLinesFollowTheirPeriodsAndReloads() throws {
        let b = budgets(
            team: [BudgetConfig(period: .day, limit: MicroUSD(1_000)), BudgetConfig(period: .total, limit: MicroUSD(5_000))],
            key: [BudgetConfig(period: .month, limit: MicroUSD(2_000))])
        let caller = Caller(team: "a", key: "k")
        let day = BudgetPeriod.day.end(after: now, timeZone: utc)!
        let keys = { (at: Date) in b.remaining(caller: caller, now: at).map(\.key) }
        #expect(keys(now) == ["key:k:month:2026-11", "team:a:day:2026-11-18", "team:a:total"])
        #expect(keys(day.addingTimeInterval(-0.001)) == ["key:k:month:2026-11", "team:a:day:2026-11-18", "team:a:total"])
        #expect(keys(day) == ["key:k:month:2026-11", "team:a:day:2026-11-19", "team:a:total"])
        #expect(keys(now) == ["key:k:month:2026-11", "team:a:day:2026-11-18", "team:a:total"])
        #expect(b.remaining(caller: Caller(team: "a"), now: now).map(\.key) == ["team:a:day:2026-11-18", "team:a:total"])
        var t = TeamConfig(id: "a")
        t.budgets = [BudgetConfig(period: .week, limit: MicroUSD(300))]
        b.update(teams: [t], keys: [])
        let after = b.remaining(caller: caller, now: now)
        #expect(after.map(\.name) == ["team:a:week"])
        #expect(after.first?.limit == MicroUSD(300))
    }

    /// The remembered lines against the periods' own keys, worked out afresh at every instant of
    /// a seeded walk: forward and backward steps from a millisecond to weeks, and steps onto
    /// each period's end and either side of it, in time zones with daylight saving, half-hour
    /// and 45-minute offsets. Every key a call would be charged under is the period's key at
    /// that instant.
    @Test(arguments: ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"])
    func rememberedLinesAreThePeriodsKeysAtEveryInstant(zone: String) throws {
        let timeZone = try #require(TimeZone(identifier: zone))
        var t = TeamConfig(id: "a")
        t.budgets = [
            BudgetConfig(period: .day, limit: MicroUSD(1_000)), BudgetConfig(period: .week, limit: MicroUSD(2_000)),
            BudgetConfig(period: .total, limit: MicroUSD(9_000)),
        ]
        var k = KeyConfig(name: "k", team: "a", hashHex: String(repeating: "1", count: 64))
        k.budgets = [BudgetConfig(period: .month, limit: MicroUSD(500))]
        let b = Budgets(teams: [t], keys: [k], mode: .strict, timeZone: timeZone)
        let caller = Caller(team: "a", key: "k")
        var random = SeededRandom(seed: 20_261_207)
        var at = now
        var ends: [Date] = []  // period ends stepped onto, to come back to from after them
        for step in 0..<4_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                at.addTimeInterval(-Double(Int.random(in: 1...3_000_000, using: &random)))  // the clock set back
            case 1, 2:
                // Onto a period's end, or a millisecond either side of it.
                let period = [BudgetPeriod.day, .week, .month].randomElement(using: &random)!
                let end = try #require(period.end(after: at, timeZone: timeZone))
                ends.append(end)
                at = end.addingTimeInterval(Double(Int.random(in: -1...1, using: &random)) / 1_000)
            case 3 where !ends.isEmpty:
                // Back to just before a boundary crossed earlier: the clock set back across it.
                let end = ends.randomElement(using: &random)!
                at = end.addingTimeInterval(-Double(Int.random(in: 0...1, using: &random)) / 1_000)
            default:
                at.addTimeInterval(Double(Int.random(in: 1...200_000_000, using: &random)) / 1_000)
            }
            let expected = [
                "key:k:" + BudgetPeriod.month.key(at: at, timeZone: timeZone),
                "team:a:" + BudgetPeriod.day.key(at: at, timeZone: timeZone),
                "team:a:" + BudgetPeriod.week.key(at: at, timeZone: timeZone), "team:a:total",
            ]
            let keys = b.remaining(caller: caller, now: at).map(\.key)
            #expect(keys == expected, "step \(step) at \(at.timeIntervalSince1970) in \(zone)")
            if keys != expected { return }
        }
    }

    @Test func keyBudgetAppliesOnlyToThatKey() {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(1_000))], key: [BudgetConfig(period: .day, limit: MicroUSD(100))])
        guard case .reject(let name, _, _, _) = b.reserve(caller: Caller(team: "a", key: "k"), model: "m", amount: MicroUSD(101), now: now)
        else { Issue.record("expected a rejection"); return }
        #expect(name == "key:k:day")
        #expect(reservation(b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(101), now: now)) != nil)
    }

    @Test func softBudgetAdmitsAndFlags() throws {
        let b = budgets(team: [BudgetConfig(period: .day, limit: MicroUSD(100), mode: .soft)])
        let r = try #require(reservation(b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(150), now: now)))
        #expect(r.softExceeded == ["team:a:day"])
    }

    @Test func aSoftBudgetIsFirstOverOncePerPeriod() throws {
        let b = budgets(team: [BudgetConfig(period: .day, limit: MicroUSD(100), mode: .soft)])
        let a = Caller(team: "a")
        let first = try #require(reservation(b.reserve(caller: a, model: "m", amount: MicroUSD(150), now: now)))
        #expect(first.softFirstInPeriod.map(\.budget) == ["team:a:day"])
        #expect(first.softFirstInPeriod.first?.periodKey == "team:a:day:2026-11-18")
        #expect(first.softFirstInPeriod.first?.limit == MicroUSD(100))
        let again = try #require(reservation(b.reserve(caller: a, model: "m", amount: MicroUSD(1), now: now)))
        #expect(again.softExceeded == ["team:a:day"] && again.softFirstInPeriod.isEmpty)
        // The next day is a new period: under the limit nothing is flagged, over it is new again.
        let tomorrow = now.addingTimeInterval(86_400)
        let under = try #require(reservation(b.reserve(caller: a, model: "m", amount: MicroUSD(100), now: tomorrow)))
        #expect(under.softExceeded.isEmpty && under.softFirstInPeriod.isEmpty)
        let over = try #require(reservation(b.reserve(caller: a, model: "m", amount: MicroUSD(1), now: tomorrow)))
        #expect(over.softFirstInPeriod.map(\.periodKey) == ["team:a:day:2026-11-19"])
        #expect(try #require(reservation(b.reserve(caller: a, model: "m", amount: MicroUSD(1), now: tomorrow))).softFirstInPeriod.isEmpty)
    }

    @Test func settleExactlyOnceAndLoadedTotalsCount() throws {
        let b = budgets(team: [BudgetConfig(period: .month, limit: MicroUSD(1_000))])
        b.load(settledTotals: ["team:a:month:2026-11": MicroUSD(500)])
        let r = try #require(reservation(b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(300), now: now)))
        #expect(b.remaining(caller: Caller(team: "a"), now: now).first?.remaining == MicroUSD(200))
        #expect(b.settle(r, actual: MicroUSD(120)) == BudgetSettlement(charged: MicroUSD(120), overshoot: .zero, applied: true))
        #expect(b.settle(r, actual: MicroUSD(120)).applied == false)
        let status = try #require(b.remaining(caller: Caller(team: "a"), now: now).first)
        #expect(status.settled == MicroUSD(620) && status.reserved == .zero && status.remaining == MicroUSD(380))
        #expect(status.key == "team:a:month:2026-11" && status.periodEnd == BudgetPeriod.month.end(after: now, timeZone: utc))
        #expect(b.all(now: now).map(\.name) == ["team:a:month"])
    }

    @Test func estimateModeReportsOvershoot() throws {
        let b = budgets(.estimate, team: [BudgetConfig(period: .day, limit: MicroUSD(1_000))])
        let r = try #require(reservation(b.reserve(caller: Caller(team: "a"), model: "m", amount: MicroUSD(100), now: now)))
        #expect(b.settle(r, actual: MicroUSD(250)) == BudgetSettlement(charged: MicroUSD(250), overshoot: MicroUSD(150), applied: true))
        #expect(b.headroom(caller: Caller(team: "a"), now: now) == MicroUSD(750))
    }

    /// 64 tasks reserve random amounts and settle random actuals at most their reservation: at
    /// no moment does settled + reserved pass the limit, and every rejection names the budget.
    @Test func strictBudgetHoldsUnderConcurrency() async {
        let limit = MicroUSD(50_000)
        let b = budgets(team: [BudgetConfig(period: .month, limit: limit)], key: [BudgetConfig(period: .total, limit: MicroUSD(40_000))])
        let now = self.now
        let results = await withTaskGroup(of: (admitted: Int, rejectedNames: Set<String>, violations: Int).self) { group in
            for task in 0..<64 {
                group.addTask {
                    var rng = SeededRandom(seed: UInt64(task) &* 7919 &+ 1)
                    var admitted = 0
                    var names: Set<String> = []
                    var violations = 0
                    for _ in 0..<50 {
                        let amount = MicroUSD(Int64.random(in: 1...3_000, using: &rng))
                        let caller = Bool.random(using: &rng) ? Caller(team: "a", key: "k") : Caller(team: "a")
                        switch b.reserve(caller: caller, model: "m", amount: amount, now: now) {
                        case .admit(let r):
                            admitted += 1
                            for s in b.all(now: now) where s.settled + s.reserved > s.limit { violations += 1 }
                            await Task.yield()
                            b.settle(r, actual: MicroUSD(Int64.random(in: 0...amount.value, using: &rng)))
                        case .reject(let name, _, _, _):
                            names.insert(name)
                        }
                    }
                    return (admitted, names, violations)
                }
            }
            var all: [(Int, Set<String>, Int)] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.reduce(0) { $0 + $1.2 } == 0)
        #expect(results.reduce(0) { $0 + $1.0 } > 0)
        let names = results.reduce(into: Set<String>()) { $0.formUnion($1.1) }
        #expect(!names.isEmpty && names.isSubset(of: ["team:a:month", "key:k:total"]))
        for status in b.all(now: now) {
            #expect(status.reserved == .zero)
            #expect(status.settled <= status.limit)
        }
    }
}
