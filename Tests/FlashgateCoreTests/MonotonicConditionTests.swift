import Foundation
import Testing

@testable import FlashgateCore

/// The ledger writer's and the log batches' condition: timed waits on the monotonic clock (a wall-clock step neither
/// stretches nor cuts them), and a signal ends a wait at once.
@Suite struct MonotonicConditionTests {
    @Test func aWaitWhoseTimeIsUpReturnsFalseAtOnce() {
        let condition = MonotonicCondition()
        condition.lock()
        #expect(condition.wait(for: .zero) == false)
        #expect(condition.wait(for: .nanoseconds(-5)) == false)
        condition.unlock()
    }

    @Test func aSignalEndsAnHourLongWait() async {
        let condition = MonotonicCondition()
        final class Flag: @unchecked Sendable { var set = false; var waiting = false }
        let flag = Flag()
        let woken = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let waiter = Thread {
                condition.lock()
                flag.waiting = true
                var signalled = true
                while !flag.set && signalled { signalled = condition.wait(for: .seconds(3600)) }
                condition.unlock()
                continuation.resume(returning: signalled && flag.set)
            }
            waiter.start()
            // Signal once the waiter holds the lock and waits (or is about to: the flag is read
            // under the lock, so the signal cannot be lost).
            while true {
                condition.lock()
                if flag.waiting {
                    flag.set = true
                    condition.signal()
                    condition.unlock()
                    break
                }
                condition.unlock()
                sched_yield()
            }
        }
        #expect(woken)
    }
}
