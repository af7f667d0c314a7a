import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateStorage

/// Paced commits (`ledger.commit_interval`): writes nobody waits for — settlement rows behind
/// their answers, counts — wait up to the interval to share one commit instead of costing an
/// fdatasync each, while a write someone waits for (a lease grant, a report's flush), a batch's
/// worth of writes and closing the ledger each commit at once. The interval here is an hour, so
/// whatever commits did so because of one of those, never because time passed.
@Suite(.timeLimit(.minutes(1))) struct LedgerPacingTests {
    let tmp = TemporaryDirectory("ledger-pacing")
    static let key = "team:t:total"

    func open(interval: Duration = .seconds(3600)) throws -> Ledger {
        try Ledger.open(
            directory: tmp.path, maxSizeBytes: 64 << 20, options: Ledger.Options(commitInterval: interval))
    }

    static func lease(_ amount: Int64) -> LeaseRecord {
        LeaseRecord(group: key, team: "t", key: "", budgetKeys: [key], amount: MicroUSD(amount))
    }

    static func settle(_ ledger: Ledger, _ count: Int, cost: Int64 = 10) {
        for _ in 0..<count {
            ledger.settleLeased(LedgerWriterTests.row(key, cost: cost), group: key, debit: MicroUSD(cost))
        }
    }

    @Test func settlementsWaitForTheIntervalAndAReportsFlushTakesThemInOneCommit() async throws {
        let ledger = try open()
        defer { ledger.close() }
        #expect(await LedgerWriterTests.grant(ledger, Self.lease(10_000)))
        #expect(ledger.commitCounts.commits == 1, "a grant a call may wait for goes at once")
        Self.settle(ledger, 100)
        // Held for the interval: no commit, no fdatasync, per settlement.
        #expect(ledger.queueDepth == 100)
        #expect(ledger.commitCounts.commits == 1)
        #expect(try ledger.requestRows().isEmpty)
        // What an admin report does first: everything queued before it is committed, together.
        await ledger.flushCounters()
        #expect(ledger.commitCounts == (commits: 2, writes: 102), "the grant, then the rows and the flush")
        #expect(try ledger.requestRows().count == 100)
        #expect(ledger.total(Self.key) == MicroUSD(1_000))
        #expect(try ledger.openLeases().map(\.amount) == [MicroUSD(9_000)])
        #expect(ledger.queueDepth == 0)
    }

    @Test func anUrgentWriteCarriesTheHeldOnesWithIt() async throws {
        let ledger = try open()
        defer { ledger.close() }
        #expect(await LedgerWriterTests.grant(ledger, Self.lease(1_000)))
        Self.settle(ledger, 5)
        #expect(ledger.queueDepth == 5)
        // A call waiting for its lease's next grant does not wait for the interval.
        #expect(await LedgerWriterTests.grant(ledger, Self.lease(1_000)))
        #expect(ledger.commitCounts == (commits: 2, writes: 7))
        #expect(try ledger.requestRows().count == 5)
        #expect(try ledger.openLeases().map(\.amount) == [MicroUSD(1_950)])
    }

    @Test func aBatchsWorthCommitsWithoutWaiting() async throws {
        let ledger = try open()
        defer { ledger.close() }
        #expect(await LedgerWriterTests.grant(ledger, Self.lease(100_000)))
        Self.settle(ledger, LedgerWriter.writesPerTransaction)
        while try ledger.requestRows().count < LedgerWriter.writesPerTransaction {
            try Task.checkCancellation()
            await Task.yield()
        }
        #expect(ledger.commitCounts == (commits: 2, writes: 1 + LedgerWriter.writesPerTransaction))
    }

    @Test func closingCommitsTheHeldWritesAtOnce() async throws {
        do {
            let ledger = try open()
            #expect(await LedgerWriterTests.grant(ledger, Self.lease(1_000)))
            Self.settle(ledger, 10)
            ledger.countRefusal(timeMs: 1_795_000_000_000, team: "t", key: "k", reason: .budget)
            #expect(ledger.queueDepth == 11)
            ledger.close()
        }
        let ledger = try open()
        defer { ledger.close() }
        #expect(try ledger.requestRows().count == 10)
        #expect(ledger.total(Self.key) == MicroUSD(100))
        #expect(try ledger.openLeases().map(\.amount) == [MicroUSD(900)])
        #expect(try ledger.refusals().map(\.count) == [1])
    }

    @Test func withoutAnIntervalEveryTrickleCommitsAtOnce() async throws {
        let ledger = try open(interval: .zero)
        defer { ledger.close() }
        #expect(await LedgerWriterTests.grant(ledger, Self.lease(1_000)))
        Self.settle(ledger, 1)
        while try ledger.requestRows().count < 1 { try Task.checkCancellation(); await Task.yield() }
        #expect(ledger.commitCounts.commits == 2)
    }
}

/// A paced writer runs below the process's priority (its rows have no one waiting), a writer that
/// commits at once (`per_request`) at the process's own: answers wait for that one.
@Suite(.timeLimit(.minutes(1))) struct LedgerWriterPriorityTests {
    let tmp = TemporaryDirectory("ledger-priority")

    func writerNice(interval: Duration) async throws -> (writer: Int32?, process: Int32?) {
        let ledger = try Ledger.open(
            directory: tmp.path, maxSizeBytes: 64 << 20, options: Ledger.Options(commitInterval: interval))
        defer { ledger.close() }
        // A grant is committed by the writer thread, which set its priority before its first take.
        #expect(await LedgerWriterTests.grant(ledger, LedgerPacingTests.lease(1_000)))
        let tid = ledger.writerThreadID
        #expect(tid != 0)
        return (ThreadPriority.nice(ofThread: tid), ThreadPriority.nice(ofThread: ThreadPriority.currentThreadID))
    }

    @Test func aPacedWriterRunsBelowTheProcesssPriority() async throws {
        let (writer, process) = try await writerNice(interval: .milliseconds(10))
        let base = try #require(process)
        #expect(writer == min(19, base + LedgerWriter.pacedNice))
    }

    @Test func aWriterThatCommitsAtOnceKeepsTheProcesssPriority() async throws {
        let (writer, process) = try await writerNice(interval: .zero)
        #expect(writer != nil && writer == process)
    }
}
