import NIOCore
import NIOPosix
import Testing

@testable import FlashgateServer

/// A step of work that does not suspend, in a `nonisolated` async function: Swift 6 runs such a
/// function on the generic executor, which a task that prefers an executor must not pay a hop for.
nonisolated func step(_ value: Int) async -> Int { value &+ 1 }

/// The task executor the upstream half of every request runs on.
@Suite struct EventLoopTaskExecutorTests {
    @Test func nonisolatedAsyncCallsContinueInlineOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let executor = EventLoopTaskExecutor(loop)
        let calls = 200
        let result = await Task(executorPreference: executor) { () -> (Int, Bool) in
            var value = 0
            var alwaysOnLoop = true
            for _ in 0..<calls {
                value = await step(value)
                alwaysOnLoop = alwaysOnLoop && loop.inEventLoop
            }
            return (value, alwaysOnLoop)
        }.value
        #expect(result.0 == calls)
        #expect(result.1, "the task's code runs on the loop's thread")
        // Starting the task is one job; each call that switched executors used to be another
        // (the runtime did not know the loop's job ran for this task executor): 200 or more.
        #expect(executor.jobs.load(ordering: .relaxed) <= 4)
        try await group.shutdownGracefully()
    }

    @Test func aResumedContinuationComesBackToTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let other = group.next()
        let executor = EventLoopTaskExecutor(loop)
        let onLoop = await Task(executorPreference: executor) { () -> Bool in
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                other.execute { continuation.resume() }
            }
            return loop.inEventLoop
        }.value
        #expect(onLoop)
        try await group.shutdownGracefully()
    }
}
