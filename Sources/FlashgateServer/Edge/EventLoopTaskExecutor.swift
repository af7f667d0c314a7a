import NIOCore

/// Runs a Swift task's code on one SwiftNIO event loop. The upstream half of a request runs on
/// its connection's loop: starting the task, resuming it when upstream bytes arrive, and writing
/// to the client then need no hop to another thread, which is most of a proxy's overhead on a
/// two-core host.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        loop.enqueue(job)
    }
}
