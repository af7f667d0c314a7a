import NIOCore
import Synchronization

/// Runs a Swift task's code on one SwiftNIO event loop. The upstream half of a request runs on
/// its connection's loop: starting the task, resuming it when upstream bytes arrive, and writing
/// to the client then need no hop to another thread, which is most of a proxy's overhead on a
/// two-core host.
///
/// Jobs run *as this task executor* (`runSynchronously(on: asUnownedTaskExecutor())`), not as the
/// loop's serial executor: the runtime then knows the task already runs where it prefers, so a
/// call into a `nonisolated` async function (which targets the generic executor) continues inline.
/// Run as the loop's serial executor instead, every such call was a switch of executors: a job
/// enqueued on the loop and run on its next tick, about 53 per proxied request (callgrind).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop
    /// Jobs this executor has been given (a relaxed count, for tests).
    let jobs = Atomic(0)

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        jobs.add(1, ordering: .relaxed)
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
