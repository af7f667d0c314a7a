internal import CSpawn
import Glibc

/// One OS thread's scheduling priority. On Linux `setpriority(PRIO_PROCESS, tid)` sets the nice
/// value of that thread alone; raising it (a lower priority) needs no privilege.
package enum ThreadPriority {
    /// The calling thread's kernel id.
    package static var currentThreadID: Int32 { cspawn_thread_id() }

    /// Raises the calling thread's nice value by `steps` (at most 19), so that it yields the CPU
    /// to the process's other threads when they compete for it. False when the kernel refused.
    @discardableResult
    package static func lowerCurrentThread(by steps: Int32) -> Bool {
        let tid = currentThreadID
        guard let nice = nice(ofThread: tid) else { return false }
        return setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), min(19, nice + steps)) == 0
    }

    /// A thread's nice value, or nil when it cannot be read (the thread is gone).
    package static func nice(ofThread tid: Int32) -> Int32? {
        errno = 0
        let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid))
        return nice == -1 && errno != 0 ? nil : nice
    }
}
