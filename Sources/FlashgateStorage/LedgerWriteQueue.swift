import FlashgateCore
import Synchronization

/// One ledger write waiting for the group commit, with the callback that hands its outcome back
/// (`true` when it changed the ledger, `false` for a settlement already made).
struct LedgerPendingWrite: Sendable {
    enum Operation: Sendable {
        case reserve(ReservationRecord)
        case settle(SettlementRecord)
        /// Adds the refusals counted so far (`RefusalTally`) to their counters.
        case refusals
        /// A settlement drawn from a lease: the row, and what its charge takes from the lease.
        case settleLeased(SettlementRecord, group: String, debit: MicroUSD)
        /// Money granted to a lease group (added to its open lease).
        case grantLease(LeaseRecord)
        /// An unused remainder handed back (taken from the group's open lease).
        case releaseLease(group: String, amount: MicroUSD)
        /// Adds the $0 events counted so far (`RollupTally`) to their hourly rollups.
        case counters
        /// One small batch of retention (`Ledger+Retention`); succeeds with whether more is left.
        case retention(LedgerRetentionStep)
    }

    let operation: Operation
    /// Someone waits for this write (a call for its reservation or lease grant, a report for its
    /// flush): it is committed at once. A write nobody waits for (a settlement behind its answer,
    /// a count) may wait up to the commit interval to share a commit with others.
    var urgent = true
    let done: @Sendable (Result<Bool, any Error>) -> Void

    /// A row that holds no money (a cache hit, a joined follower, a token count): the first
    /// thing to give up when the ledger is nearly full.
    var isFree: Bool {
        if case .settle(let s) = operation { return s.reservationID == nil && s.cost == .zero }
        return false
    }
}

/// The hand-off between callers and the ledger's writer thread: a bounded queue under a
/// condition variable. Callers append and wake the writer (after releasing the lock, and only
/// when it sleeps); the writer takes up to a batch's worth at once, so everything that arrived
/// during the previous commit's flush rides the next one. After `stop()` nothing new is accepted
/// and the writer drains what is left.
///
/// Paced (`commitInterval` above zero, `ledger.commit_interval`): writes nobody waits for are
/// committed at most one interval after the previous commit ended, together, instead of one
/// commit (and one fdatasync) per write as they trickle in. An urgent write, a batch's worth of
/// writes, or `stop()` ends the wait at once; a submit wakes a pacing writer only then.
///
/// Bounded: `depth` counts queued writes and the batch being committed. Writes of calls already
/// answered are always accepted (they are money); new paid calls first `waitForRoom`, which
/// fails once the queue has stayed at `capacity` for the wait, so the queue holds at most
/// `capacity` plus one write per call in flight.
final class LedgerWriteQueue: @unchecked Sendable {
    let capacity: Int
    /// How long writes nobody waits for may wait for the next commit; zero commits at once.
    let commitInterval: Duration
    /// Queued writes that end a pacing wait by their number alone.
    private let batchNow: Int
    private let condition = MonotonicCondition()
    private var pending: [LedgerPendingWrite] = []
    /// Urgent writes among `pending`.
    private var urgentPending = 0
    private var committing = 0
    /// What the writer is doing, which says what a submit must wake it for.
    private enum Writer {
        /// Taking or committing a batch: it looks at the queue again before it waits.
        case busy
        /// Asleep with nothing to do: any submit wakes it.
        case idle
        /// Holding writes back until their interval is up: only an urgent write or a batch's
        /// worth wakes it sooner.
        case pacing
    }
    private var writer = Writer.busy
    /// When the last batch ended: deferrable writes are due one interval later.
    private var lastCommitEnd: ContinuousClock.Instant?
    private var stopping = false
    private var finished = false
    private var commits = 0
    private var committedWrites = 0
    private let roomWaiters = Mutex<RoomWaiters>(RoomWaiters())
    private let nextWaiter = Atomic<UInt64>(0)

    init(capacity: Int = 4096, commitInterval: Duration = .zero, batchLimit: Int = 256) {
        self.capacity = max(1, capacity)
        self.commitInterval = max(.zero, commitInterval)
        batchNow = max(1, min(batchLimit, self.capacity / 2))
    }

    /// Queues `write`; false (and nothing queued) once the ledger is closing.
    func submit(_ write: LedgerPendingWrite) -> Bool {
        condition.lock()
        guard !stopping else {
            condition.unlock()
            return false
        }
        pending.append(write)
        if write.urgent { urgentPending += 1 }
        let wake =
            switch writer {
            case .busy: false
            case .idle: true
            case .pacing: write.urgent || pending.count >= batchNow
            }
        if wake { writer = .busy }
        condition.unlock()
        if wake { condition.signal() }
        return true
    }

    /// Blocks until there is work and returns at most `limit` writes in arrival order; nil when
    /// stopping with nothing left. The writes count towards `depth` until `recordCommit`. Paced,
    /// writes nobody waits for are held until one interval after the last commit ended, unless
    /// an urgent write, a batch's worth or `stop()` comes first.
    func take(limit: Int) -> [LedgerPendingWrite]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if pending.isEmpty {
                if stopping { break }
                writer = .idle
                condition.wait()
                continue
            }
            guard !stopping, urgentPending == 0, (pending.count < batchNow), commitInterval > .zero,
                let last = lastCommitEnd
            else { break }
            let left = last + commitInterval - ContinuousClock.now
            guard left > .zero else { break }
            writer = .pacing
            condition.wait(for: left)
        }
        writer = .busy
        if pending.isEmpty { return nil }
        let count = min(limit, pending.count)
        let batch = Array(pending[..<count])
        pending.removeFirst(count)
        urgentPending -= batch.reduce(0) { $0 + ($1.urgent ? 1 : 0) }
        committing = count
        return batch
    }

    /// Queued writes plus those being committed.
    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count + committing
    }

    var isFull: Bool { depth >= capacity }

    /// The writer finished a transaction carrying `writes` (0 when it failed as a whole).
    func recordCommit(writes: Int) {
        condition.lock()
        if writes > 0 {
            commits += 1
            committedWrites += writes
        }
        condition.unlock()
    }

    /// The batch taken last is over (committed or failed): its writes leave `depth`, and callers
    /// waiting for room are let in if there is some.
    func batchEnded() {
        condition.lock()
        committing = 0
        lastCommitEnd = .now
        let room = pending.count < capacity
        condition.unlock()
        if room { resumeRoomWaiters(true) }
    }

    /// True at once when the queue has room; otherwise waits up to `wait` for some, then false.
    func waitForRoom(_ wait: Duration) async -> Bool {
        if !isFull { return true }
        if wait <= .zero { return false }
        let id = nextWaiter.add(1, ordering: .relaxed).oldValue
        let timer = Task {
            guard (try? await Task.sleep(for: wait)) != nil else { return }
            self.resumeRoomWaiter(id, false)
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let expired = roomWaiters.withLock { waiters in
                if waiters.expired.remove(id) != nil { return true }
                waiters.waiting[id] = continuation
                return false
            }
            if expired {
                continuation.resume(returning: false)
            } else if !isFull {
                // Room appeared before the waiter was registered.
                resumeRoomWaiter(id, true)
            }
        }
        timer.cancel()
        roomWaiters.withLock { _ = $0.expired.remove(id) }
        return result
    }

    /// Callers waiting for room, and those whose wait ended before they were registered.
    struct RoomWaiters {
        var waiting: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var expired: Set<UInt64> = []
    }

    private func resumeRoomWaiter(_ id: UInt64, _ result: Bool) {
        let waiter = roomWaiters.withLock { waiters -> CheckedContinuation<Bool, Never>? in
            if let waiter = waiters.waiting.removeValue(forKey: id) { return waiter }
            if !result { waiters.expired.insert(id) }
            return nil
        }
        waiter?.resume(returning: result)
    }

    private func resumeRoomWaiters(_ result: Bool) {
        let waiters = roomWaiters.withLock { waiters in
            defer { waiters.waiting = [:] }
            return waiters.waiting
        }
        for waiter in waiters.values { waiter.resume(returning: result) }
    }

    /// Commit transactions so far and the writes they carried.
    var counts: (commits: Int, writes: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (commits, committedWrites)
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.unlock()
        condition.broadcast()
        resumeRoomWaiters(false)
    }

    func markFinished() {
        condition.lock()
        finished = true
        condition.unlock()
        condition.broadcast()
    }

    func waitFinished() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
