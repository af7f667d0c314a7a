import FlashgateCore
import Synchronization

/// The keys of one route: calls use the current key until it is answered with 429, 401 or 403;
/// then it is set aside (for the upstream's retry delay, or a minute) and the next one is used.
///
/// Invariant: `current` never returns a key that is set aside while another key is not; when all
/// are set aside it returns the one that comes back first, so a route is never left keyless.
package final class KeyRing: Sendable {
    private struct State {
        var current = 0
        var asideUntil: [Tick?]
    }

    private let state: Mutex<State>
    package let count: Int

    init(count: Int) {
        self.count = count
        state = Mutex(State(asideUntil: Array(repeating: nil, count: count)))
    }

    /// The key to use now.
    package func current(now: Tick) -> Int {
        state.withLock { state in
            for step in 0..<count {
                let index = (state.current + step) % count
                if let until = state.asideUntil[index], until > now { continue }
                state.asideUntil[index] = nil
                state.current = index
                return index
            }
            let soonest =
                state.asideUntil.indices.min { (state.asideUntil[$0] ?? now) < (state.asideUntil[$1] ?? now) } ?? 0
            return soonest
        }
    }

    /// Sets a key aside until `until`; answers whether another key is usable now.
    @discardableResult
    package func setAside(_ index: Int, until: Tick, now: Tick) -> Bool {
        state.withLock { state in
            // An index from before a reload that shortened the ring names no key of this one
            // (setting it aside had trapped and taken the gateway down).
            if state.asideUntil.indices.contains(index) { state.asideUntil[index] = until }
            if state.current == index { state.current = (index + 1) % count }
            return state.asideUntil.contains { $0 == nil || $0! <= now }
        }
    }

    /// How many keys are usable now.
    package func available(now: Tick) -> Int {
        state.withLock { state in state.asideUntil.filter { $0 == nil || $0! <= now }.count }
    }
}
