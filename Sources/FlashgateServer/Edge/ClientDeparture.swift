import Synchronization

/// What a client going away does to its request's task. By default the task is cancelled. A
/// leader that runs a shared upstream call in its own task diverts that: followers may still wait
/// for the call, so the flight decides (`Flight.leaderLeft`) and cancels the task through
/// `cancelTask` only when nobody is left.
///
/// Invariant: the task is cancelled at most once, and never while a diversion is in place unless
/// the diversion asks for it; a client gone before the task is attached cancels it on attach.
package final class ClientDeparture: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var divert: (@Sendable () -> Void)?
        var gone = false
        var cancelled = false
    }

    private let state = Mutex(State())

    package init() {}

    /// The request's task, once it exists.
    func attach(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.task = task
            return state.cancelled
        }
        if cancelNow { task.cancel() }
    }

    /// The client went away: the diversion hears of it, or else the task is cancelled.
    func clientGone() {
        let divert = state.withLock { state -> (@Sendable () -> Void)? in
            state.gone = true
            return state.divert
        }
        if let divert { divert() } else { cancelTask() }
    }

    /// Until `endDivert`, the client leaving runs `body` instead of cancelling the task. Returns
    /// false (and diverts nothing) when the client is already gone.
    func divert(_ body: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state -> Bool in
            guard !state.gone else { return false }
            state.divert = body
            return true
        }
    }

    /// The diversion is over; a client that left meanwhile now cancels the task.
    func endDivert() {
        let gone = state.withLock { state -> Bool in
            state.divert = nil
            return state.gone
        }
        if gone { cancelTask() }
    }

    /// Cancels the task (now, or as soon as it is attached).
    func cancelTask() {
        let task = state.withLock { state -> Task<Void, Never>? in
            guard !state.cancelled else { return nil }
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }
}
