import FlashgateCore
import FlashgateTesting
import Foundation
import Synchronization
import Testing

@testable import FlashgateStorage

/// The ledger's writer under failure and back-pressure: one bad write never takes its group
/// commit down with it, a stalled disk fills a bounded queue instead of memory, and a full map
/// refuses what it must while the store still opens and recovers.
@Suite(.timeLimit(.minutes(1))) struct LedgerWriterTests {
    let tmp = TemporaryDirectory("ledger-writer")

    static func row(_ budgetKey: String, cost: Int64 = 10, attempts: [String] = []) -> SettlementRecord {
        var row = SettlementRecord(
            reservationID: nil, timeMs: 1_795_000_000_000, team: "t", key: "k", model: "m", route: "r",
            cost: MicroUSD(cost), cacheStatus: "miss", outcome: "ok", budgetKeys: [budgetKey])
        row.attempts = attempts
        return row
    }

    @Test func oneFailingWriteDoesNotDiscardItsGroupCommit() async throws {
        let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20)
        defer { ledger.close() }
        // LMDB refuses keys over 511 bytes, so this settlement's running total cannot be written.
        let poison = String(repeating: "x", count: 600)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                group.addTask {
                    (try? await ledger.settle(Self.row(i == 31 ? poison : "team:t|total"))) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0 }.count == 1, "only the bad write may fail")
        #expect(ledger.total("team:t|total") == MicroUSD(63 * 10))
        #expect(try ledger.requestRows().count == 63)
    }

    /// Paced or not: pacing holds at most half the queue, so it never keeps room from new calls.
    /// Paced (an hour here), what is left after the disk comes back is held for the interval, as
    /// it should be; a report's flush takes it in (it used to spin here for the hour whenever the
    /// writer's first batch took more than twelve of the sixteen writes).
    @Test(arguments: [Duration.zero, .seconds(3600)])
    func theQueueIsBoundedUnderAStalledDiskAndEverythingSettlesAfter(commitInterval: Duration) async throws {
        let disk = FakeGate()
        let ledger = try Ledger.open(
            directory: tmp.path, maxSizeBytes: 64 << 20,
            options: Ledger.Options(
                queueCapacity: 16, beforeCommit: { disk.blockUntilOpen() }, commitInterval: commitInterval))
        defer { ledger.close() }
        for _ in 0..<16 { ledger.settleLater(Self.row("team:t|total")) }
        // The writer holds the first write, stalled before its commit; the rest wait behind it.
        #expect(ledger.queueDepth == 16)
        #expect(await ledger.waitForRoom(.zero) == false, "a new paid call finds no room")
        // Settlements of calls already answered are money: they are always taken.
        for _ in 0..<4 { ledger.settleLater(Self.row("team:t|total")) }
        #expect(ledger.queueDepth == 20)
        async let room = ledger.waitForRoom(.seconds(60))
        disk.open()
        #expect(await room, "room comes back as soon as the disk does")
        if commitInterval > .zero { await ledger.flushCounters() }
        while try ledger.requestRows().count < 20 { try Task.checkCancellation(); await Task.yield() }
        #expect(ledger.total("team:t|total") == MicroUSD(200))
        while ledger.queueDepth > 0 { try Task.checkCancellation(); await Task.yield() }
        #expect(await ledger.waitForRoom(.zero))
    }

    @Test func leasesMoveMoneyOnlyBetweenLeaseAndSpentAndACrashChargesTheRemainder() async throws {
        let key = "team:t:total"
        do {
            let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20)
            let lease = LeaseRecord(group: key, team: "t", key: "", budgetKeys: [key], amount: MicroUSD(1_000))
            #expect(await Self.grant(ledger, lease))
            #expect(try ledger.openLeases().map(\.amount) == [MicroUSD(1_000)])
            ledger.settleLeased(Self.row(key, cost: 300), group: key, debit: MicroUSD(300))
            ledger.settleLeased(Self.row(key, cost: 200), group: key, debit: MicroUSD(200))
            while try ledger.requestRows().count < 2 { try Task.checkCancellation(); await Task.yield() }
            // Settled plus leased is what was granted, at every commit.
            #expect(ledger.total(key) == MicroUSD(500))
            #expect(try ledger.openLeases().map(\.amount) == [MicroUSD(500)])
            // A crash: the ledger is abandoned with its lease open (no hand-back).
            ledger.close()
        }
        let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20)
        defer { ledger.close() }
        let recovery = try ledger.recoverAtStart(nowMs: 1)
        #expect(recovery.settlements.map(\.cost) == [MicroUSD(500)])
        #expect(recovery.settlements.first?.outcome == "recovered")
        #expect(recovery.stillOpen.isEmpty)
        #expect(ledger.total(key) == MicroUSD(1_000), "the unsettled remainder counts as spent")
        #expect(try ledger.openLeases().isEmpty)
        #expect(try ledger.recoverAtStart(nowMs: 2).settlements.isEmpty)
    }

    /// A group commit applies its lease changes to one working copy per lease and writes each
    /// lease once; what it leaves is what the changes one by one leave, order and floor included:
    /// a debit past what is left empties the lease (and removes it) before a grant refills it.
    @Test func leaseChangesInOneGroupCommitLeaveWhatTheyWouldOneByOne() async throws {
        let reached = FakeGate()
        let disk = FakeGate()
        // Armed, the next commit stops before it commits until the disk opens.
        let armed = Mutex(false)
        let ledger = try Ledger.open(
            directory: tmp.path, maxSizeBytes: 64 << 20,
            options: Ledger.Options(beforeCommit: {
                let hold = armed.withLock { armed in
                    defer { armed = false }
                    return armed
                }
                guard hold else { return }
                reached.open()
                disk.blockUntilOpen()
            }))
        defer { ledger.close() }
        func lease(_ group: String, _ amount: Int64) -> LeaseRecord {
            LeaseRecord(group: group, team: "t", key: "", budgetKeys: ["team:t:total"], amount: MicroUSD(amount))
        }
        #expect(await Self.grant(ledger, lease("kept", 200)))
        #expect(await Self.grant(ledger, lease("a", 500)))
        // The writer's next commit holds one row, stalled; everything after it queues for one batch.
        armed.withLock { $0 = true }
        ledger.settleLater(Self.row("team:t:total", cost: 1))
        await reached.wait()
        let commitsBefore = ledger.commitCounts.commits
        ledger.settleLeased(Self.row("team:t:total", cost: 800), group: "a", debit: MicroUSD(800))
        ledger.grantLease(lease("a", 1_000)) { _ in }
        ledger.settleLeased(Self.row("team:t:total", cost: 100), group: "a", debit: MicroUSD(100))
        ledger.grantLease(lease("gone", 300)) { _ in }
        ledger.releaseLease(group: "gone", amount: MicroUSD(300)) { _ in }
        ledger.settleLeased(Self.row("team:t:total", cost: 50), group: "kept", debit: MicroUSD(50))
        ledger.settleLeased(Self.row("team:t:total", cost: 5), group: "never-granted", debit: MicroUSD(5))
        #expect(ledger.queueDepth == 8)
        disk.open()
        while try ledger.requestRows().count < 5 { try Task.checkCancellation(); await Task.yield() }
        while ledger.queueDepth > 0 { try Task.checkCancellation(); await Task.yield() }
        #expect(ledger.commitCounts.commits == commitsBefore + 2, "the stalled row, then the seven changes in one")
        let open = try ledger.openLeases().sorted { $0.group < $1.group }
        // One by one: a 500 - 800 -> 0 (removed), + 1,000, - 100 = 900; gone +300 - 300 -> removed;
        // kept 200 - 50 = 150; a debit of a lease never granted changes nothing.
        #expect(open.map(\.group) == ["a", "kept"])
        #expect(open.map(\.amount) == [MicroUSD(900), MicroUSD(150)])
        #expect(ledger.total("team:t:total") == MicroUSD(956))
    }

    @Test func aHandedBackLeaseLeavesNothingToRecover() async throws {
        let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20)
        defer { ledger.close() }
        let lease = LeaseRecord(group: "g", team: "t", key: "", budgetKeys: ["team:t:total"], amount: MicroUSD(700))
        #expect(await Self.grant(ledger, lease))
        ledger.settleLeased(Self.row("team:t:total", cost: 100), group: "g", debit: MicroUSD(100))
        // `flashgate ledger stats` shows what is leased and not yet settled or handed back.
        while try ledger.stats().leasedAmount != MicroUSD(600) { try Task.checkCancellation(); await Task.yield() }
        #expect(try ledger.stats().openLeases == 1)
        let released = await withCheckedContinuation { continuation in
            ledger.releaseLease(group: "g", amount: MicroUSD(600)) { continuation.resume(returning: $0) }
        }
        #expect(released)
        #expect(try ledger.openLeases().isEmpty)
        #expect(try ledger.stats().openLeases == 0 && ledger.stats().leasedAmount == .zero)
        #expect(ledger.total("team:t:total") == MicroUSD(100))
        #expect(try ledger.recoverAtStart(nowMs: 1).settlements.isEmpty)
    }

    @Test func usageIsMeasuredAgainstTheMapAndAFullMapRefusesPaidCallsButStillOpens() async throws {
        let map = 2 << 20
        let big = (0..<8).map { "r\($0):503:\(String(repeating: "9", count: 60))ms" }
        var reserved = MicroUSD.zero
        do {
            let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: map)
            #expect(ledger.health.usage.mapSizeBytes == map)
            #expect(ledger.health.usage.percent < 10 && !ledger.health.refusesPaidCalls)
            // Rows until the writer refuses: past 90 % new paid calls are refused.
            var rounds = 0
            while !ledger.health.refusesPaidCalls && rounds < 10_000 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<8 {
                        group.addTask { try await ledger.settle(Self.row("team:t|total", attempts: big)) }
                    }
                    try await group.waitForAll()
                }
                rounds += 1
            }
            #expect(ledger.health.refusesPaidCalls, "a ledger past 90 % refuses paid calls")
            #expect(ledger.health.usage.percent >= 90)
            // Reservations (money) still fit in the headroom, until the map is really full.
            var full = false
            while !full {
                let made = await withTaskGroup(of: Int64?.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            let r = ReservationRecord(
                                id: ledger.nextReservationID(), timeMs: 1, team: "t", key: "k", model: "m", route: "r",
                                amount: MicroUSD(5),
                                budgetKeys: ["team:t|total", "key:" + String(repeating: "k", count: 300)])
                            do {
                                try await ledger.reserve(r)
                                return r.amount.value
                            } catch {
                                return nil
                            }
                        }
                    }
                    return await group.reduce(into: [Int64?]()) { $0.append($1) }
                }
                reserved += MicroUSD(made.compactMap { $0 }.reduce(0, +))
                full = made.contains { $0 == nil }
            }
            #expect(reserved > .zero)
            // A $0 row is not even tried any more: what room is left is for money.
            await #expect(throws: LedgerError.self) { try await ledger.settle(Self.row("team:t|total", cost: 0)) }
            ledger.close()
        }
        // It opens, and recovery needs no room it does not have: what it cannot settle still counts.
        let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: map)
        defer { ledger.close() }
        #expect(ledger.health.refusesPaidCalls)
        let recovery = try ledger.recoverAtStart(nowMs: 1)
        let settled = recovery.settlements.reduce(MicroUSD.zero) { $0 + $1.cost }
        #expect(settled + (recovery.stillOpen["team:t|total"] ?? .zero) == reserved)
    }

    static func grant(_ ledger: Ledger, _ lease: LeaseRecord) async -> Bool {
        await withCheckedContinuation { continuation in
            ledger.grantLease(lease) { continuation.resume(returning: $0) }
        }
    }
}
