import NIOCore
import NIOPosix
import Testing

@testable import FlashgateServer

/// A task that prefers an event loop runs there, and its nonisolated async steps continue in
/// place: only the start and real suspensions are jobs on the loop.
@Suite struct EventLoopTaskExecutorTests {
    /// Nonisolated async functions that never suspend: each call and return asks for the
    /// generic executor.
    nonisolated static func step(_ depth: Int, on loop: any EventLoop) async -> Bool {
        guard depth > 0 else { return loop.inEventLoop }
        let here = loop.inEventLoop
        let below = await step(depth - 1, on: loop)
        return here && below && loop.inEventLoop
    }

    @Test func nonisolatedStepsRunInPlaceOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let executor = EventLoopTaskExecutor(loop)
        let onLoop = await Task(executorPreference: executor) {
            var all = true
            for _ in 0..<10 { all = await Self.step(5, on: loop) && all }
            return all
        }.value
        #expect(onLoop)
        // The task's start, once; before, every step was a switch that enqueued it again.
        #expect(executor.jobsEnqueued == 1)
        try await group.shutdownGracefully()
    }

    @Test func aSuspendedTaskResumesOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let executor = EventLoopTaskExecutor(loop)
        let resumedOnLoop = try await Task(executorPreference: executor) {
            // Completed on another thread: the task suspends and is resumed through the executor.
            _ = try await other.next().submit { 1 }.get()
            return loop.inEventLoop
        }.value
        #expect(resumedOnLoop)
        // The start and the resumption: two, or one when the future completes before the task
        // has parked (then it goes on without being enqueued again). The old executor made seven.
        #expect((1...2).contains(executor.jobsEnqueued))
        try await other.shutdownGracefully()
        try await group.shutdownGracefully()
    }
}
