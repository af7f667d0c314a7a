import FlashgateCore
import Synchronization
import Testing

@testable import FlashgateServer

/// A non-streamed leader makes its flight's upstream call in its own task. Its client leaving
/// must then cancel that task only when no follower waits for the call (`ClientDeparture` and
/// `Flight.leadInline`); the end-to-end cases are in `ResponseCacheTests`.
@Suite struct InlineLeaderTests {
    /// A task that waits until it is cancelled, and reports it.
    private static func waitingTask() -> (Task<Void, Never>, AsyncStream<Void>) {
        let (cancelled, signal) = AsyncStream<Void>.makeStream()
        let task = Task {
            await withTaskCancellationHandler {
                let (never, _) = AsyncStream<Void>.makeStream()
                for await _ in never {}
            } onCancel: {
                signal.yield()
                signal.finish()
            }
        }
        return (task, cancelled)
    }

    @Test func theClientLeavingCancelsTheTaskByDefault() async {
        let departure = ClientDeparture()
        let (task, cancelled) = Self.waitingTask()
        departure.attach(task)
        departure.clientGone()
        for await _ in cancelled { break }
        #expect(task.isCancelled)
    }

    @Test func aClientGoneBeforeTheTaskIsAttachedCancelsItOnAttach() {
        let departure = ClientDeparture()
        departure.clientGone()
        let (task, _) = Self.waitingTask()
        departure.attach(task)
        #expect(task.isCancelled)
    }

    @Test func aDiversionDecidesUntilItEndsThenTheTaskIsCancelled() {
        let departure = ClientDeparture()
        let (task, _) = Self.waitingTask()
        departure.attach(task)
        let heard = Atomic(0)
        #expect(departure.divert { heard.add(1, ordering: .relaxed) })
        departure.clientGone()
        #expect(heard.load(ordering: .relaxed) == 1)
        #expect(!task.isCancelled)
        departure.endDivert()
        #expect(task.isCancelled)
        #expect(!departure.divert {}, "the client is gone: nothing is diverted any more")
    }

    @Test func aDiversionThatEndsWithTheClientStillThereCancelsNothing() {
        let departure = ClientDeparture()
        let (task, _) = Self.waitingTask()
        departure.attach(task)
        #expect(departure.divert {})
        departure.endDivert()
        #expect(!task.isCancelled)
        task.cancel()
    }

    @Test func theLeaderLeavingDoesNotCancelWhileAFollowerWaits() {
        let flight = Flight()
        let cancels = Atomic(0)
        flight.leadInline { cancels.add(1, ordering: .relaxed) }
        var follower: EventPipe<JSONValue>.Events? = flight.subscribe()
        #expect(flight.subscriberCount == 2, "the leader counts as a subscriber")
        flight.leaderLeft()
        #expect(cancels.load(ordering: .relaxed) == 0)
        follower = nil  // the last one waiting goes: now the call stops
        #expect(follower == nil)
        #expect(cancels.load(ordering: .relaxed) == 1)
    }

    @Test func aFollowerLeavingDoesNotCancelWhileTheLeaderStays() {
        let flight = Flight()
        let cancels = Atomic(0)
        flight.leadInline { cancels.add(1, ordering: .relaxed) }
        var follower: EventPipe<JSONValue>.Events? = flight.subscribe()
        follower = nil
        #expect(follower == nil)
        #expect(cancels.load(ordering: .relaxed) == 0)
        flight.leaderLeft()
        #expect(cancels.load(ordering: .relaxed) == 1)
        flight.leaderLeft()
        #expect(cancels.load(ordering: .relaxed) == 1, "a second notice changes nothing")
    }

    @Test func theLeaderLeavingAFinishedFlightCancelsNothing() async throws {
        let flight = Flight()
        let cancels = Atomic(0)
        flight.leadInline { cancels.add(1, ordering: .relaxed) }
        flight.publish(["text": "a"])
        flight.publish(["text": "b"])
        flight.finish(.success)
        flight.leaderLeft()
        #expect(cancels.load(ordering: .relaxed) == 0)
        var seen: [JSONValue] = []
        for try await event in flight.replay() { seen.append(event) }
        #expect(seen == [["text": "a"], ["text": "b"]])
    }

    @Test func theReplayOfAFailedFlightEndsWithItsError() async {
        let flight = Flight()
        flight.leadInline {}
        flight.publish(["text": "a"])
        flight.finish(.failure(FlashgateError(.upstreamTimeout, "slow")))
        var seen = 0
        do {
            for try await _ in flight.replay() { seen += 1 }
            Issue.record("the replay ended without the flight's error")
        } catch {
            #expect((error as? FlashgateError)?.kind == .upstreamTimeout)
        }
        #expect(seen == 1)
    }

    /// The inline leader reads its finished flight's events as they are: none while the flight
    /// goes on, then every event in order and the end, its error included.
    @Test func aFinishedFlightIsReadAsItsEventsAndItsEnd() throws {
        let flight = Flight()
        flight.leadInline {}
        flight.publish(["text": "a"])
        #expect(flight.finished() == nil)
        flight.publish(["text": "b"])
        flight.finish(.success)
        var events = try #require(flight.finished())
        #expect(events.nextIsReady)
        #expect(try events.next() == ["text": "a"])
        #expect(try events.next() == ["text": "b"])
        #expect(try events.next() == nil)
        #expect(try events.next() == nil)

        let failed = Flight()
        failed.leadInline {}
        failed.publish(["text": "a"])
        failed.finish(.failure(FlashgateError(.upstreamTimeout, "slow")))
        var ended = try #require(failed.finished())
        #expect(try ended.next() == ["text": "a"])
        #expect(throws: FlashgateError.self) { try ended.next() }
    }

}
