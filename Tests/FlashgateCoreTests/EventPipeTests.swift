import Synchronization
import Testing

@testable import FlashgateCore

struct PipeFailure: Error, Equatable {}

/// Counts the runs of an `onCancel` action.
final class CancelCount: Sendable {
    let runs = Atomic(0)
    var value: Int { runs.load(ordering: .relaxed) }
    func action() -> @Sendable () -> Void { { self.runs.add(1, ordering: .relaxed) } }
}

/// The pipe that carries upstream events and a flight's events to each client: order, the end,
/// errors, and what a consumer that goes away does to its producer.
@Suite struct EventPipeTests {
    /// Waits (by yielding, not by time) until the pipe's consumer is parked in `next()`.
    static func untilWaiting<E: Sendable>(_ pipe: EventPipe<E>) async {
        while !pipe.state.withLock({ $0.waiter != nil }) { await Task.yield() }
    }

    /// A consumer whose first `next()` must throw `PipeFailure`: its value says whether it did.
    static func expectingFailure(_ events: EventPipe<Int>.Events) -> Task<Bool, Never> {
        Task {
            var iterator = events.makeAsyncIterator()
            do {
                _ = try await iterator.next()
                return false
            } catch {
                return error is PipeFailure
            }
        }
    }

    /// `nextIsReady` says whether `next()` would return without waiting: what lets a stream's
    /// writer gather the events already there into one write.
    @Test func nextIsReadyWhileElementsWaitAndAtTheEnd() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        var iterator = events.makeAsyncIterator()
        #expect(!iterator.nextIsReady, "nothing sent yet")
        pipe.send([1, 2])
        #expect(iterator.nextIsReady)
        #expect(try await iterator.next() == 1)
        #expect(iterator.nextIsReady, "2 is waiting")
        #expect(try await iterator.next() == 2)
        #expect(!iterator.nextIsReady, "drained, not ended")
        pipe.send([3], finishing: true)
        #expect(try await iterator.next() == 3)
        #expect(iterator.nextIsReady, "the end is there")
        #expect(try await iterator.next() == nil)
    }

    @Test func elementsBeforeAndAfterTheConsumerArrivesInOrderThenTheEnd() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        #expect(pipe.yield(1))
        #expect(pipe.yield(2))
        let consumer = Task {
            var seen: [Int] = []
            for try await value in events { seen.append(value) }
            return seen
        }
        await Self.untilWaiting(pipe)
        #expect(pipe.yield(3))
        await Self.untilWaiting(pipe)
        pipe.finish()
        #expect(!pipe.yield(4), "a finished pipe takes nothing more")
        #expect(try await consumer.value == [1, 2, 3])
    }

    @Test func anErrorComesAfterTheElementsBeforeItAndOnlyOnce() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        pipe.yield(7)
        pipe.finish(throwing: PipeFailure())
        pipe.finish()  // a second end changes nothing
        var iterator = events.makeAsyncIterator()
        #expect(try await iterator.next() == 7)
        await #expect(throws: PipeFailure.self) { try await iterator.next() }
        #expect(try await iterator.next() == nil)
    }

    @Test func aWaitingConsumerGetsTheErrorAtOnce() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let consumer = Self.expectingFailure(events)
        await Self.untilWaiting(pipe)
        pipe.finish(throwing: PipeFailure())
        #expect(await consumer.value)
    }

    @Test func cancellingAWaitingConsumerEndsItAndRunsOnCancelOnce() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let cancels = CancelCount()
        pipe.onCancel(cancels.action())
        let consumer = Task { () -> Int? in
            var iterator = events.makeAsyncIterator()
            return try await iterator.next()
        }
        await Self.untilWaiting(pipe)
        consumer.cancel()
        #expect(try await consumer.value == nil)
        #expect(cancels.value == 1)
        #expect(pipe.isCancelled)
        #expect(!pipe.yield(1), "the producer learns the consumer is gone")
        pipe.finish()
        #expect(cancels.value == 1)
    }

    @Test func aCancelledTaskGetsNoBufferedElements() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let cancels = CancelCount()
        pipe.onCancel(cancels.action())
        pipe.yield(1)
        let consumer = Task { () -> Int? in
            withUnsafeCurrentTask { $0?.cancel() }
            var iterator = events.makeAsyncIterator()
            return try await iterator.next()
        }
        #expect(try await consumer.value == nil)
        #expect(cancels.value == 1)
    }

    @Test func droppingTheConsumerSideBeforeTheEndCancelsTheProducer() {
        let cancels = CancelCount()
        let pipe: EventPipe<Int>
        do {
            let made = EventPipe<Int>.make()
            pipe = made.pipe
            pipe.onCancel(cancels.action())
            pipe.yield(1)
            _ = made.events.makeAsyncIterator()
        }
        #expect(cancels.value == 1)
        #expect(!pipe.yield(2))
    }

    @Test func droppingTheConsumerSideAfterTheEndDoesNotCancel() {
        let cancels = CancelCount()
        let pipe: EventPipe<Int>
        do {
            let made = EventPipe<Int>.make()
            pipe = made.pipe
            pipe.onCancel(cancels.action())
            pipe.yield(1)
            pipe.finish()
        }
        #expect(cancels.value == 0)
        #expect(!pipe.isCancelled)
    }

    @Test func anOnCancelSetAfterTheConsumerLeftRunsAtOnce() {
        let cancels = CancelCount()
        let pipe: EventPipe<Int>
        do {
            let made = EventPipe<Int>.make()
            pipe = made.pipe
        }
        pipe.onCancel(cancels.action())
        #expect(cancels.value == 1)
    }

    @Test func concurrentProducersLoseNothingAndDuplicateNothing() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let consumer = Task {
            var seen: [Int] = []
            for try await value in events { seen.append(value) }
            return seen
        }
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<8 {
                group.addTask {
                    for index in 0..<500 { pipe.yield(producer * 1_000 + index) }
                }
            }
        }
        pipe.finish()
        let seen = try await consumer.value
        #expect(seen.count == 4_000)
        #expect(Set(seen).count == 4_000)
        for producer in 0..<8 {
            let own = seen.filter { $0 / 1_000 == producer }
            #expect(own == own.sorted(), "one producer's elements keep their order")
        }
    }
}

/// `send`: what a producer gathered in one pass, delivered at once, with or without the end.
@Suite struct EventPipeBatchTests {
    @Test func aBatchArrivesInOrderAndItsEndAfterIt() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let consumer = Task {
            var seen: [Int] = []
            for try await value in events { seen.append(value) }
            return seen
        }
        await EventPipeTests.untilWaiting(pipe)
        pipe.send([1, 2])
        pipe.send([3, 4, 5], finishing: true)
        #expect(!pipe.yield(6))
        #expect(try await consumer.value == [1, 2, 3, 4, 5])
    }

    @Test func aWaitingConsumerWokenByABatchFindsItsEndWithoutParkingAgain() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let consumer = Task { () -> [Int] in
            var iterator = events.makeAsyncIterator()
            var seen: [Int] = []
            while let value = try await iterator.next() { seen.append(value) }
            return seen
        }
        await EventPipeTests.untilWaiting(pipe)
        pipe.send([7, 8, 9], finishing: true)
        #expect(try await consumer.value == [7, 8, 9])
        #expect(pipe.state.withLock { $0.waiter == nil && $0.buffer.isEmpty })
    }

    @Test func anErrorAfterABatchComesAfterItsElements() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        pipe.send([1], finishing: false)
        pipe.send([2], finishing: true, error: PipeFailure())
        var iterator = events.makeAsyncIterator()
        #expect(try await iterator.next() == 1)
        #expect(try await iterator.next() == 2)
        await #expect(throws: PipeFailure.self) { try await iterator.next() }
        #expect(try await iterator.next() == nil)
    }

    @Test func anEmptyFinishingBatchEndsAWaitingConsumer() async throws {
        let (pipe, events) = EventPipe<Int>.make()
        let failing = EventPipeTests.expectingFailure(events)
        await EventPipeTests.untilWaiting(pipe)
        pipe.send([], finishing: true, error: PipeFailure())
        #expect(await failing.value)

        let (quiet, quietEvents) = EventPipe<Int>.make()
        let ending = Task { () -> Int? in
            var iterator = quietEvents.makeAsyncIterator()
            return try await iterator.next()
        }
        await EventPipeTests.untilWaiting(quiet)
        quiet.send([], finishing: true)
        #expect(try await ending.value == nil)
    }

    @Test func aBatchAfterTheConsumerLeftIsDropped() {
        let cancels = CancelCount()
        let pipe: EventPipe<Int>
        do {
            let made = EventPipe<Int>.make()
            pipe = made.pipe
            pipe.onCancel(cancels.action())
        }
        pipe.send([1, 2], finishing: true)
        #expect(cancels.value == 1)
        #expect(pipe.state.withLock { $0.buffer.isEmpty })
    }
}
