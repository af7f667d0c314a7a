import Synchronization

/// The shared, lock-guarded book of a FakeGemini: scripted replies still to send, requests
/// received, connections opened and closed, and tests waiting for a count to be reached.
/// Invariant: a waiter is resumed exactly once, outside the lock, as soon as its count is reached.
final class FakeGeminiLedger: Sendable {
    enum Counter: Sendable {
        case requests
        case openedConnections
        case closedConnections
    }

    private struct Waiter {
        var counter: Counter
        var target: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var queue: [FakeReply] = []
        var received: [FakeRequest] = []
        var opened = 0
        var closed = 0
        var waiters: [Waiter] = []

        func count(_ counter: Counter) -> Int {
            switch counter {
            case .requests: received.count
            case .openedConnections: opened
            case .closedConnections: closed
            }
        }

        mutating func takeSatisfied() -> [Waiter] {
            let counts = (requests: received.count, opened: opened, closed: closed)
            func reached(_ waiter: Waiter) -> Bool {
                let value: Int
                switch waiter.counter {
                case .requests: value = counts.requests
                case .openedConnections: value = counts.opened
                case .closedConnections: value = counts.closed
                }
                return value >= waiter.target
            }
            let ready = waiters.filter(reached)
            waiters.removeAll(where: reached)
            return ready
        }
    }

    private let state = Mutex(State())
    /// The fake's `cachedContents` and the generations that use them.
    let caches = FakeCachedContents()

    func enqueue(_ reply: FakeReply) { state.withLock { $0.queue.append(reply) } }

    func clearQueue() { state.withLock { $0.queue.removeAll() } }

    var received: [FakeRequest] { state.withLock { $0.received } }

    func count(_ counter: Counter) -> Int { state.withLock { $0.count(counter) } }

    /// Records the request and returns the reply to send: the next scripted one or the default.
    func record(_ request: FakeRequest) -> FakeReply {
        let (reply, ready) = state.withLock { state in
            state.received.append(request)
            let reply = state.queue.isEmpty ? nil : state.queue.removeFirst()
            return (reply, state.takeSatisfied())
        }
        for waiter in ready { waiter.continuation.resume() }
        return reply ?? caches.reply(for: request) ?? FakeReply.defaultReply(for: request)
    }

    func connectionOpened() { update { $0.opened += 1 } }

    func connectionClosed() { update { $0.closed += 1 } }

    func wait(until counter: Counter, reaches target: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let reached = state.withLock { state in
                if state.count(counter) >= target { return true }
                state.waiters.append(Waiter(counter: counter, target: target, continuation: continuation))
                return false
            }
            if reached { continuation.resume() }
        }
    }

    private func update(_ body: (inout State) -> Void) {
        let ready = state.withLock { state in
            body(&state)
            return state.takeSatisfied()
        }
        for waiter in ready { waiter.continuation.resume() }
    }
}
