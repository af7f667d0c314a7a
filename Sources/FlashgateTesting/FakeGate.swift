import Dispatch
import Synchronization

/// A one-shot latch a test opens to let a scripted reply proceed. It replaces sleeps: the fake
/// server waits on the gate, so "slow first byte" or "stalled mid-stream" lasts exactly as long
/// as the test wants. Invariant: once open it stays open, and every waiter runs exactly once.
package final class FakeGate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    package init() {}

    package var isOpen: Bool { state.withLock { $0.isOpen } }

    package func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter() }
    }

    /// Runs `action` once the gate is open: now if it already is, else on the thread that opens it.
    package func whenOpen(_ action: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state in
            if state.isOpen { return true }
            state.waiters.append(action)
            return false
        }
        if runNow { action() }
    }

    /// Blocks the calling thread until the gate is open: for a test hook on a thread that is not
    /// Swift concurrency's own (the ledger's writer thread, a stalled disk).
    package func blockUntilOpen() {
        let opened = DispatchSemaphore(value: 0)
        whenOpen { opened.signal() }
        opened.wait()
    }

    package func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenOpen { continuation.resume() }
        }
    }
}
