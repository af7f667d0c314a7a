import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateCore

/// Budget leases as a state machine on a manual clock: grants sized to about a hundred calls and
/// never past a share of the headroom, calls that wait only for money not yet durable, settled
/// spend plus leases never over a hard limit whatever the order of events, and remainders handed
/// back when idle, when the period ends, at shutdown and when a reload lowers the budget.
@Suite struct BudgetLeasesTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T…Z
    let utc = TimeZone(identifier: "UTC")!

    func budgets(team: [BudgetConfig], key: [BudgetConfig] = [], keys: [String] = ["k"]) -> Budgets {
        var t = TeamConfig(id: "a")
        t.budgets = team
        let configured = keys.map { name in
            var k = KeyConfig(name: name, team: "a", hashHex: String(repeating: "1", count: 64))
            k.budgets = key
            return k
        }
        return Budgets(teams: [t], keys: configured, mode: .strict, timeZone: utc)
    }

    static func finish(_ budgets: Budgets, _ changes: [LeaseChange], durable: Bool = true, took: Duration? = nil) {
        for change in changes {
            // As the accountant does: a grant's waiters go upstream only if it covers them.
            let covered = budgets.leaseChangeFinished(change, durable: durable, took: took)
            change.latch.finish(durable: durable && covered)
        }
    }

    /// Steady calls of 500 µ$, one every `interval`, each grant landing `commit` after it was
    /// asked for (and reported as taking that long). Returns the calls that waited for a grant
    /// after the first `warmUp`, and the grants asked for after it.
    static func steadyCalls(
        _ b: Budgets, from start: Date, count: Int, interval: Duration, commit: Duration, warmUp: Int
    ) -> (waits: Int, grants: [MicroUSD]) {
        let step = Double(TokenBucket.nanos(interval)) / 1e9
        let lag = Int(TokenBucket.nanos(commit) / TokenBucket.nanos(interval))
        var inFlight: [(change: LeaseChange, due: Int)] = []
        var waits = 0
        var grants: [MicroUSD] = []
        for call in 0..<count {
            let at = start.addingTimeInterval(Double(call) * step)
            let due = inFlight.filter { $0.due <= call }
            inFlight.removeAll { $0.due <= call }
            finish(b, due.map(\.change), took: commit)
            let d = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(500), now: at)
            guard case .admit(let r) = d.decision else {
                Issue.record("refused at call \(call)")
                break
            }
            if call >= warmUp {
                if d.wait != nil { waits += 1 }
                grants += d.changes.map(\.amount)
            }
            if call == 0 {
                finish(b, d.changes, took: commit)  // nothing is leased yet: the very first call waits
            } else {
                inFlight += d.changes.map { ($0, call + lag) }
            }
            b.settle(r, actual: MicroUSD(500))
        }
        return (waits, grants)
    }

    /// Regression: grants were sized for about a hundred calls and asked for with fifty left,
    /// whatever the disk. A commit taking as long as 400 calls (400 ms at a thousand calls a
    /// second) made most calls wait for the grant in flight: 3,150 of the 4,000 calls after the
    /// warm-up waited. Grants now follow the commit time: asked for with
    /// twice a commit's worth of calls left, covering twice that (capped at a thousand calls).
    @Test func slowCommitsAskForTheNextGrantEarlierAndLargerSoNoCallWaits() throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(1_000_000_000))])
        let run = Self.steadyCalls(
            b, from: now, count: 5_000, interval: .milliseconds(1), commit: .milliseconds(400), warmUp: 1_000)
        #expect(run.waits == 0)
        #expect(!run.grants.isEmpty && run.grants.allSatisfy { $0 == MicroUSD(500_000) }, "a thousand calls each")
        #expect(b.grantCommitTime == .milliseconds(400))
        #expect((b.leasedByKey["team:a:total"] ?? .zero) <= MicroUSD(1_000_000), "at most two grants' worth leased")
    }

    /// Commits well within the default margin leave the sizing as it was: a hundred calls a
    /// grant, fetched with fifty left.
    @Test func fastCommitsKeepGrantsAtAboutAHundredCalls() throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(1_000_000_000))])
        let run = Self.steadyCalls(
            b, from: now, count: 2_000, interval: .milliseconds(1), commit: .milliseconds(20), warmUp: 1)
        #expect(run.waits == 0)
        #expect(run.grants.count >= 19 && run.grants.allSatisfy { $0 == MicroUSD(50_000) })
    }

    /// A slow commit raises the estimate at once; faster ones bring it down a sixteenth at a
    /// time, and a slow disk never grows a grant past a thousand calls.
    @Test func theCommitEstimateRisesAtOnceFallsSlowlyAndGrantsStayBounded() throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(1_000_000_000))])
        let run = Self.steadyCalls(
            b, from: now, count: 3_000, interval: .milliseconds(1), commit: .seconds(10), warmUp: 1)
        #expect(run.grants.allSatisfy { $0 <= MicroUSD(500_000) })
        #expect(b.grantCommitTime == .seconds(10))
        let caller = Caller(team: "a")
        let d = b.reserveLeased(caller: caller, amount: MicroUSD(500), now: now.addingTimeInterval(3))
        let more = b.reserveLeased(caller: caller, amount: MicroUSD(1_000_000), now: now.addingTimeInterval(3))
        let change = try #require(d.changes.first ?? more.changes.first)
        b.leaseChangeFinished(change, durable: true, took: .zero)
        #expect(b.grantCommitTime == .milliseconds(9_375), "15/16 of 10 s")
    }

    /// Reservations as large as money gets (a made-up price times the most a call can bill)
    /// are admitted or refused, never trapped on: the lease's running average, its grant and
    /// its prefetch margin multiply amounts that had overflowed.
    @Test func reservationsAsLargeAsMoneyGetsNeverTrap() throws {
        for limit in [MicroUSD.max, MicroUSD(Int64.max / 2)] {
            let b = budgets(team: [BudgetConfig(period: .total, limit: limit)])
            let caller = Caller(team: "a")
            for amount in [MicroUSD(Int64.max / 4), MicroUSD(Int64.max / 3), .max, MicroUSD(500)] {
                let d = b.reserveLeased(caller: caller, amount: amount, now: now)
                Self.finish(b, d.changes)
                if case .admit(let reservation) = d.decision { _ = b.settle(reservation, actual: amount) }
            }
            #expect(b.remaining(caller: caller, now: now).first.map { $0.remaining >= .zero } == true)
        }
    }

    /// Two grants in flight, the first fails (the ledger could not write it): a call waiting on
    /// the second, admitted partly on the first, is not covered by the second alone. Before, the
    /// second grant's landing let it go upstream with 10,000 µ$ of its 60,000 on nothing durable.
    @Test func aLaterGrantDoesNotCoverCallsThatCountedOnAnEarlierOneThatFailed() throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(100_000_000))])
        let caller = Caller(team: "a")
        let first = b.reserveLeased(caller: caller, amount: MicroUSD(500), now: now)
        guard case .admit(let small) = first.decision, let grant1 = first.changes.first else {
            Issue.record("refused")
            return
        }
        // 49,500 of grant 1 is free; a 60,000 call asks for a second grant and waits on it.
        let big = b.reserveLeased(caller: caller, amount: MicroUSD(60_000), now: now)
        guard case .admit = big.decision, let grant2 = big.changes.first else {
            Issue.record("refused")
            return
        }
        #expect(grant1.amount == MicroUSD(50_000) && grant2.amount == MicroUSD(50_000))
        #expect(big.wait === grant2.latch)
        #expect(b.leaseChangeFinished(grant1, durable: false) == false)
        b.settle(small, actual: .zero)  // its call is refused and gives its reservation back
        // 50,000 on disk for a 60,000 reservation: grant 2's waiters are not covered.
        #expect(b.leaseChangeFinished(grant2, durable: true) == false)

        // Without a failure, a grant that lands covers its waiters as before.
        let c = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(100_000_000))])
        let one = c.reserveLeased(caller: caller, amount: MicroUSD(500), now: now)
        let two = c.reserveLeased(caller: caller, amount: MicroUSD(60_000), now: now)
        #expect(c.leaseChangeFinished(one.changes[0], durable: true))
        #expect(c.leaseChangeFinished(two.changes[0], durable: true))
    }

    @Test func aGrantCoversAboutAHundredCallsAndOnlyCallsOnNewMoneyWait() throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(100_000_000))])
        let first = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(500), now: now)
        guard case .admit(let r) = first.decision else {
            Issue.record("refused")
            return
        }
        #expect(first.changes.map(\.kind) == [.grant])
        #expect(first.changes[0].amount == MicroUSD(50_000))
        #expect(first.wait === first.changes[0].latch, "the first call waits for its grant to be durable")
        Self.finish(b, first.changes)
        #expect(first.wait?.result == true)
        // The next calls draw on the durable lease: no wait, and no write until half of it is
        // spoken for; then one grant is asked for ahead of need, and nobody waits for it.
        var ahead: [LeaseChange] = []
        for call in 2...99 {
            let next = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(500), now: now)
            #expect(next.wait == nil)
            if call <= 50 { #expect(next.changes.isEmpty, "call \(call)") }
            ahead += next.changes
        }
        #expect(ahead.map(\.kind) == [.grant] && ahead.first?.need == .zero)
        #expect(ahead.first?.amount == MicroUSD(50_000))
        Self.finish(b, ahead)
        b.settle(r, actual: MicroUSD(120))
        #expect(b.leasedByKey["team:a:total"] == MicroUSD(100_000 - 120))
        #expect(b.all(now: now).first?.settled == MicroUSD(120))
    }

    @Test func nearTheLimitAGrantTakesAtMostAQuarterOfTheHeadroomSoOtherKeysStillFit() throws {
        // Two keys share a team budget; key budgets are generous, so the team's headroom is the limit.
        let b = budgets(
            team: [BudgetConfig(period: .total, limit: MicroUSD(10_000))],
            key: [BudgetConfig(period: .total, limit: MicroUSD(1_000_000))], keys: ["busy", "quiet"])
        let busy = Caller(team: "a", key: "busy")
        let first = b.reserveLeased(caller: busy, amount: MicroUSD(1_000), now: now)
        #expect(first.changes.first?.amount == MicroUSD(2_500), "a quarter of 10,000, not 100 calls of 1,000")
        Self.finish(b, first.changes)
        // The busy key keeps going; each grant is a quarter of what is left.
        var grants: [MicroUSD] = []
        for _ in 0..<5 {
            let next = b.reserveLeased(caller: busy, amount: MicroUSD(1_000), now: now)
            grants += next.changes.map(\.amount)
            Self.finish(b, next.changes)
        }
        #expect(grants.allSatisfy { $0 <= MicroUSD(2_500) })
        // The quiet key still gets its call in.
        let quiet = b.reserveLeased(caller: Caller(team: "a", key: "quiet"), amount: MicroUSD(1_000), now: now)
        guard case .admit = quiet.decision else {
            Issue.record("the quiet key was starved")
            return
        }
    }

    /// Calls of up to 9,000 µ$ under a 200,000 µ$ budget are always near the limit (grants on
    /// need only); calls of up to 900 µ$ under 1,000,000 µ$ start far from it, so grants are
    /// fetched ahead of need until the budget nears its limit.
    @Test(
        arguments: [(Int64(200_000), Int64(150_000), Int64(9_000)), (1_000_000, 800_000, 900)], [13, 29, 71, 101, 977])
    func settledPlusLeasedNeverExceedsAHardLimitInAnyOrderOfEvents(
        limits: (teamLimit: Int64, keyLimit: Int64, largestCall: Int64), seed: UInt64
    ) throws {
        let (teamLimit, keyLimit, largestCall) = limits
        var random = SeededRandom(seed: seed)
        let limit = MicroUSD(teamLimit)
        let b = budgets(
            team: [BudgetConfig(period: .total, limit: limit)],
            key: [BudgetConfig(period: .total, limit: MicroUSD(keyLimit))], keys: ["k1", "k2", "k3"])
        var aheadOfNeed = 0
        // A call settles only after the grant it waited for was tried, as `persist` makes sure;
        // one whose grant failed never went upstream and is charged nothing.
        var open: [(reservation: Reservation, wait: LeaseLatch?)] = []
        var pending: [LeaseChange] = []
        var clock = now
        for _ in 0..<5_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                let caller = Caller(team: "a", key: ["k1", "k2", "k3"][Int.random(in: 0..<3, using: &random)])
                let d = b.reserveLeased(
                    caller: caller, amount: MicroUSD(Int64.random(in: 1...largestCall, using: &random)), now: clock)
                pending += d.changes
                aheadOfNeed += d.changes.filter { $0.kind == .grant && $0.need == .zero }.count
                if case .admit(let r) = d.decision { open.append((r, d.wait)) }
            case 4..<7:
                let ready = open.indices.filter { open[$0].wait == nil || open[$0].wait?.result != nil }
                guard let index = ready.randomElement(using: &random) else { continue }
                let (r, wait) = open.remove(at: index)
                let actual = wait?.result == false ? 0 : Int64.random(in: 0...r.amount.value, using: &random)
                b.settle(r, actual: MicroUSD(actual))
            case 7..<9 where !pending.isEmpty:
                // The ledger writes one lease's changes in the order they were made (one writer,
                // one queue); different leases' changes land in any order here.
                let group = pending[Int.random(in: 0..<pending.count, using: &random)].group
                let change = pending.remove(at: pending.firstIndex { $0.group == group }!)
                // Commits of up to two seconds: grants sized for slow disks, larger and earlier.
                Self.finish(
                    b, [change], durable: Int.random(in: 0..<10, using: &random) > 0,
                    took: .milliseconds(Int64.random(in: 0...2_000, using: &random)))
            default:
                clock = clock.addingTimeInterval(Double.random(in: 0...20, using: &random))
                pending += b.releaseLeases(now: clock, idle: .seconds(30))
            }
            let leased = b.leasedByKey
            for status in b.all(now: clock) {
                #expect(status.settled + (leased[status.key] ?? .zero) <= status.limit, "\(status.name)")
            }
        }
        Self.finish(b, pending)
        for (r, wait) in open { b.settle(r, actual: wait?.result == false ? .zero : r.amount) }
        Self.finish(b, b.releaseLeases(now: clock, idle: .zero, all: true))
        #expect(b.leaseTotals.count == 0 && b.leaseTotals.amount == .zero)
        #expect(b.all(now: clock).allSatisfy { $0.settled <= $0.limit && $0.reserved == .zero })
        if largestCall < 1_000 { #expect(aheadOfNeed > 0, "the roomy budget fetched grants ahead of need") }
    }

    @Test func idleLeasesAndEndedPeriodsGiveTheirRemainderBack() throws {
        let b = budgets(team: [BudgetConfig(period: .day, limit: MicroUSD(1_000_000))])
        let d = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(100), now: now)
        guard case .admit(let r) = d.decision else { return }
        Self.finish(b, d.changes)
        // Busy (a call in flight) or used recently: nothing goes back.
        #expect(b.releaseLeases(now: now.addingTimeInterval(60), idle: .seconds(30)).isEmpty)
        b.settle(r, actual: MicroUSD(40))
        #expect(b.releaseLeases(now: now.addingTimeInterval(10), idle: .seconds(30)).isEmpty)
        let back = b.releaseLeases(now: now.addingTimeInterval(31), idle: .seconds(30))
        #expect(back.map(\.amount) == [MicroUSD(10_000 - 40)])
        // Still counted until the hand-back is durable.
        #expect(b.leasedByKey.values.reduce(.zero, +) == MicroUSD(10_000 - 40))
        Self.finish(b, back)
        #expect(b.leaseTotals.count == 0)

        // At the day's end the lease goes back even while in use.
        let today = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(100), now: now)
        Self.finish(b, today.changes)
        let midnight = BudgetPeriod.day.end(after: now, timeZone: utc)!
        let rollover = b.releaseLeases(now: midnight, idle: .seconds(3600))
        #expect(rollover.map(\.amount) == [MicroUSD(10_000 - 100)])
    }

    @Test func aFailedGrantIsWithdrawnAndItsCallSeesIt() async throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(1_000_000))])
        let d = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(100), now: now)
        Self.finish(b, d.changes, durable: false)
        #expect(await d.wait?.wait() == false)
        #expect(b.leasedByKey["team:a:total"] == .zero)
    }

    @Test func aLoweredBudgetTakesBackUnusedLeaseAndRefuses() throws {
        var t = TeamConfig(id: "a")
        t.budgets = [BudgetConfig(period: .total, limit: MicroUSD(1_000_000))]
        let b = Budgets(teams: [t], keys: [], mode: .strict, timeZone: utc)
        let d = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(100), now: now)
        guard case .admit(let r) = d.decision else { return }
        Self.finish(b, d.changes)
        b.settle(r, actual: MicroUSD(100))
        t.budgets = [BudgetConfig(period: .total, limit: MicroUSD(100))]
        b.update(teams: [t], keys: [])
        let refused = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(1), now: now)
        guard case .reject(let name, _, let remaining, _) = refused.decision else {
            Issue.record("a spent budget admitted a call from its old lease")
            return
        }
        #expect(name == "team:a:total" && remaining == .zero)
        #expect(refused.changes.map(\.kind) == [.release])
        Self.finish(b, refused.changes)
        #expect(b.leasedByKey["team:a:total"] == .zero)
    }

    /// Regression: this host's own leases were topped up only when they ran dry, so about one call
    /// in a hundred (and every call arriving during that commit) waited for an fdatasync before
    /// going upstream: the tail of the miss path. The next grant is now asked for with half a
    /// lease left.
    @Test func steadyCallsNeverWaitForAGrantWhenCommitsLandWithinFiftyCalls() throws {
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(1_000_000_000))])
        var inFlight: [(change: LeaseChange, due: Int)] = []
        var waits = 0
        var grants = 0
        for call in 0..<2_000 {
            let d = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(500), now: now)
            guard case .admit(let r) = d.decision else {
                Issue.record("refused")
                return
            }
            if call == 0 {
                Self.finish(b, d.changes)  // nothing is leased yet: the very first call waits
                continue
            }
            if d.wait != nil { waits += 1 }
            grants += d.changes.count
            // Each commit lands 20 calls after it was asked for.
            inFlight += d.changes.map { ($0, call + 20) }
            let due = inFlight.filter { $0.due <= call }
            inFlight.removeAll { $0.due <= call }
            Self.finish(b, due.map(\.change))
            b.settle(r, actual: MicroUSD(500))
        }
        #expect(waits == 0)
        #expect(grants >= 19, "about one grant per hundred calls")
        let leased = b.leasedByKey["team:a:total"] ?? .zero
        #expect(leased <= MicroUSD(100_000), "at most a lease and a half ahead")
    }

    @Test func nearTheLimitNoGrantIsFetchedAheadOfNeed() throws {
        // A typical grant (100 calls of 500 = 50,000) fits in a quarter of the headroom only while
        // 200,000 or more is left: below that a lease is topped up when it runs short.
        let b = budgets(team: [BudgetConfig(period: .total, limit: MicroUSD(180_000))])
        var ahead = 0
        var admitted = 0
        for _ in 0..<400 {
            let d = b.reserveLeased(caller: Caller(team: "a"), amount: MicroUSD(500), now: now)
            ahead += d.changes.filter { $0.kind == .grant && $0.need == .zero }.count
            Self.finish(b, d.changes)
            guard case .admit(let r) = d.decision else { break }
            admitted += 1
            b.settle(r, actual: MicroUSD(500))
        }
        #expect(ahead == 0)
        #expect(admitted == 360, "the whole budget is still spendable: 180,000 / 500")
    }

    /// The headroom a leased reservation reports (the `x-flashgate-budget-remaining-usd` figure)
    /// is the smallest `remaining` of the caller's budgets right after the call, as `/admin`'s
    /// statuses give it: team and key budgets, a day and a total, across calls that reserve,
    /// settle and are refused.
    @Test func leasedHeadroomIsTheSmallestRemaining() {
        let b = budgets(
            team: [BudgetConfig(period: .day, limit: MicroUSD(9_000)), BudgetConfig(period: .total, limit: MicroUSD(50_000))],
            key: [BudgetConfig(period: .total, limit: MicroUSD(7_000), mode: .soft)])
        let caller = Caller(team: "a", key: "k")
        var seen: [MicroUSD?] = []
        for (call, amount) in [1_000, 2_500, 700, 4_000, 3_000, 6_000].enumerated() {
            let d = b.reserveLeased(caller: caller, amount: MicroUSD(Int64(amount)), now: now)
            Self.finish(b, d.changes)
            #expect(d.headroom == b.remaining(caller: caller, now: now).map(\.remaining).min(), "call \(call)")
            seen.append(d.headroom)
            if case .admit(let r) = d.decision, call % 2 == 0 { _ = b.settle(r, actual: MicroUSD(Int64(amount / 2))) }
        }
        #expect(Set(seen.compactMap { $0 }).count > 2)
        #expect(seen.contains(MicroUSD.zero) || seen.contains { ($0 ?? .zero) < MicroUSD(1_000) })
    }

}
