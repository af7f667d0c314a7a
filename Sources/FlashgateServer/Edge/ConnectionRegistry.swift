import NIOCore
import Synchronization

/// Every open client connection and the number of requests in progress, so shutdown can stop
/// accepting, let in-flight requests finish within a bound, and then close the rest.
package final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var inFlight = 0
        var draining = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    package init() {}

    package var inFlightRequests: Int { state.withLock { $0.inFlight } }

    package var openConnections: Int { state.withLock { $0.channels.count } }

    func add(_ channel: any Channel) {
        let draining = state.withLock { state in
            state.channels[ObjectIdentifier(channel)] = channel
            return state.draining
        }
        if draining { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { [self] _ in remove(channel) }
    }

    private func remove(_ channel: any Channel) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.channels[ObjectIdentifier(channel)] = nil
            return takeWaitersIfDone(&state)
        }
        waiters.forEach { $0.resume() }
    }

    func requestStarted() { state.withLock { $0.inFlight += 1 } }

    func requestFinished() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight -= 1
            return takeWaitersIfDone(&state)
        }
        waiters.forEach { $0.resume() }
    }

    private func takeWaitersIfDone(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        guard state.draining, state.channels.isEmpty || state.inFlight == 0 else { return [] }
        defer { state.waiters = [:] }
        return Array(state.waiters.values)
    }

    /// Tells every connection to finish its current request and close, then waits until no
    /// request is in progress, or until the waiting task is cancelled (the shutdown grace is
    /// over): a wait that could not be cancelled held shutdown until the last stream ended,
    /// whatever `shutdown_grace` said.
    package func drain() async {
        let channels = state.withLock { state in
            state.draining = true
            return Array(state.channels.values)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(DrainEvent())
        }
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let done = state.withLock { state -> Bool in
                    if state.channels.isEmpty || state.inFlight == 0 || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Closes whatever is still open.
    package func closeAll() async {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels {
            try? await channel.close()
        }
    }
}
