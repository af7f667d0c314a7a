import FlashgateCore
import Synchronization

/// A `RetryClock` that only moves when a test calls `advance(by:)`. Sleepers stay suspended until
/// the clock reaches their deadline; tests wait for sleepers to appear (`waitForSleepers`) and
/// read their deadlines, so "waited at least 3 s" is asserted on virtual time, never real time.
package final class ManualRetryClock: RetryClock {
    private struct Sleeper {
        var id: Int
        var deadline: Tick
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Tick.zero
        var nextID = 0
        var sleepers: [Sleeper] = []
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    package init() {}

    package func now() -> Tick { state.withLock { $0.now } }

    package func sleep(until deadline: Tick) async throws {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Bool = state.withLock { state in
                    if deadline <= state.now || Task.isCancelled { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    let ready = state.waiters.filter { $0.count <= state.sleepers.count }
                    state.waiters.removeAll { $0.count <= state.sleepers.count }
                    for waiter in ready { waiter.continuation.resume() }
                    return false
                }
                if resume {
                    if Task.isCancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward and wakes every sleeper whose deadline has come.
    package func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Advances to the earliest pending deadline (no-op when nobody sleeps) and returns how far it moved.
    @discardableResult
    package func advanceToNextDeadline() -> Duration {
        let step = state.withLock { state -> Duration in
            guard let next = state.sleepers.map(\.deadline).min() else { return .zero }
            return max(.zero, state.now.duration(to: next))
        }
        advance(by: step)
        return step
    }

    /// Deadlines of everyone asleep, relative to now.
    package var pendingDelays: [Duration] {
        state.withLock { state in state.sleepers.map { state.now.duration(to: $0.deadline) }.sorted() }
    }

    package var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Returns once at least `count` tasks are asleep on this clock.
    package func waitForSleepers(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.sleepers.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
