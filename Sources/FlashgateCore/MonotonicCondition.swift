#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A mutex and a condition variable whose timed waits run on the monotonic clock, so a step of
/// the wall clock (NTP at boot, an operator's `date -s`) neither stretches nor cuts a wait short.
/// Foundation's `NSCondition.wait(until:)` takes a wall-clock `Date`: a clock set back by a minute
/// would hold the ledger's paced writes a minute longer than `ledger.commit_interval`, and stderr's
/// log batches (`BatchedLines`) as long.
///
/// The same calls as `NSCondition` (`lock`, `unlock`, `wait`, `signal`, `broadcast`), plus
/// `wait(for:)`, which returns false when the time ran out.
package final class MonotonicCondition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        var attributes = pthread_condattr_t()
        precondition(pthread_condattr_init(&attributes) == 0, "pthread_condattr_init failed")
        #if canImport(Glibc)
            precondition(pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) == 0, "pthread_condattr_setclock failed")
        #endif
        precondition(pthread_cond_init(condition, &attributes) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    package func signal() { pthread_cond_signal(condition) }
    package func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits (the lock held) until signalled; may wake spuriously, like every condition wait.
    package func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits (the lock held) until signalled or `duration` has passed on the monotonic clock;
    /// false when the time ran out. May wake spuriously.
    @discardableResult
    package func wait(for duration: Duration) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let (seconds, attoseconds) = duration.components
        let nanos = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(seconds) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        #if canImport(Glibc)
            return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
        #else
            // Darwin has no monotonic condition clock: a relative wait does the same there.
            var relative = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            return pthread_cond_timedwait_relative_np(condition, mutex, &relative) != ETIMEDOUT
        #endif
    }
}
