import NIOCore
import Synchronization

/// Runs a Swift task's code on one SwiftNIO event loop. The upstream half of a request runs on
/// its connection's loop: starting the task, resuming it when upstream bytes arrive, and writing
/// to the client then need no hop to another thread, which is most of a proxy's overhead on a
/// two-core host.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop
    /// Jobs handed to the loop so far: a task's start and each resumption after it suspended.
    private let enqueued = Atomic<Int>(0)

    init(_ loop: any EventLoop) { self.loop = loop }

    var jobsEnqueued: Int { enqueued.load(ordering: .relaxed) }

    /// The job runs with this executor as its task executor, not with the loop as a serial
    /// executor (which is how `EventLoop.enqueue` runs a job). Every nonisolated async function
    /// the task enters or returns to asks for the generic executor; run on the loop's serial
    /// executor, each such step was a switch that enqueued the task again (twelve loop jobs a
    /// request), where with the task executor current it continues in place.
    func enqueue(_ job: consuming ExecutorJob) {
        enqueued.add(1, ordering: .relaxed)
        let job = UnownedJob(job)
        loop.execute { [self] in job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
