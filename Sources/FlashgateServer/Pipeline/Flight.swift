import FlashgateCore
import Synchronization

/// One upstream generation shared by every identical request in flight (single flight). The
/// leader's upstream call publishes Gemini response events here; every subscriber, the leader's
/// own client included, reads them from the first event on, whenever it joined, and renders them
/// in its own dialect and mode.
///
/// Invariants: events are only appended; `outcome` is set once; a subscriber that goes away
/// never cancels the upstream call while others still wait. When the last subscriber leaves
/// before the end, the call is cancelled.
final class Flight: Sendable {
    enum Outcome: Sendable {
        case success
        case failure(FlashgateError)
    }

    private struct State {
        var events: [JSONValue] = []
        var outcome: Outcome?
        var subscribers: [Int: EventPipe<JSONValue>] = [:]
        var nextID = 0
        var everSubscribed = 0
        /// Cancels the upstream call: the pump's task, or the leader's own task when it runs the
        /// call itself (`leadInline`).
        var cancelUpstream: (@Sendable () -> Void)?
        /// A leader running the upstream call in its own task, its client still there.
        var leaderPresent = false
        /// Everyone left before the end and the call was cancelled: no one may join it any more
        /// (the table stops handing it out; an identical request leads a call of its own).
        var abandoned = false
    }

    private let state = Mutex(State())
    private let settled = Mutex((cost: MicroUSD.zero, tier: ServiceTier?.none))

    /// What the leader's caller paid, set before the flight finishes.
    var cost: MicroUSD {
        get { settled.withLock { $0.cost } }
        set { settled.withLock { $0.cost = newValue } }
    }

    /// The service tier that served and was charged; nil when nothing was charged at a tier.
    var tier: ServiceTier? {
        get { settled.withLock { $0.tier } }
        set { settled.withLock { $0.tier = newValue } }
    }

    /// How many subscribers joined over the flight's life (the leader counts).
    var subscriberCount: Int { state.withLock { $0.everSubscribed } }

    func setUpstream(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.cancelUpstream = { task.cancel() }
            guard state.subscribers.isEmpty && !state.leaderPresent && state.outcome == nil && state.everSubscribed > 0
            else { return false }
            state.abandoned = true
            return true
        }
        if cancelNow { task.cancel() }
    }

    /// Whether everyone left and the call was cancelled (the table no longer hands it out).
    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// The leader runs the upstream call in its own task (a whole answer: its client reads
    /// nothing before the end). It counts as a subscriber until `leaderLeft`; `cancel` stops the
    /// call once nobody waits for it any more.
    func leadInline(cancel: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.cancelUpstream = cancel
            state.leaderPresent = true
            state.everSubscribed += 1
        }
    }

    /// The inline leader's client went away: the call goes on while followers wait for it.
    func leaderLeft() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.leaderPresent else { return nil }
            state.leaderPresent = false
            guard state.subscribers.isEmpty && state.outcome == nil else { return nil }
            state.abandoned = true
            return state.cancelUpstream
        }
        cancel?()
    }

    /// The inline leader's own reading of the finished flight, as the events themselves and its
    /// end: no pipe to fill and drain. Nil while the flight goes on.
    func finished() -> FinishedEvents? {
        state.withLock { state in
            switch state.outcome {
            case .success?: FinishedEvents(events: state.events, failure: nil)
            case .failure(let error)?: FinishedEvents(events: state.events, failure: error)
            case nil: nil
            }
        }
    }

    /// The inline leader's own reading of the finished flight: every event, then its end.
    func replay() -> EventPipe<JSONValue>.Events {
        let (pipe, events) = EventPipe<JSONValue>.make()
        state.withLock { state in
            if !Self.replay(state, into: pipe) { pipe.finish() }
        }
        return events
    }

    /// Every event so far into `pipe`, and the end when there is one; false while the flight goes on.
    private static func replay(_ state: State, into pipe: EventPipe<JSONValue>) -> Bool {
        for event in state.events { pipe.yield(event) }
        switch state.outcome {
        case .success?: pipe.finish()
        case .failure(let error)?: pipe.finish(throwing: error)
        case nil: return false
        }
        return true
    }

    /// A follower's subscription (as `subscribe`), or nil when the flight was abandoned since the
    /// follower found it: its end would only be the cancellation.
    func subscribeIfLive() -> EventPipe<JSONValue>.Events? { subscribe(ifLive: true) }

    /// Every event so far, then the live ones, then the end (or the error).
    func subscribe() -> EventPipe<JSONValue>.Events { subscribe(ifLive: false)! }

    private func subscribe(ifLive: Bool) -> EventPipe<JSONValue>.Events? {
        let (pipe, events) = EventPipe<JSONValue>.make()
        // The replay fills a pipe nobody reads yet, so it runs no one's code; doing it under the
        // lock is what keeps a live event from slipping in before the ones already published.
        enum Joined { case live(Int), ended, refused }
        let joined = state.withLock { state -> Joined in
            if ifLive && state.abandoned { return .refused }
            guard !Self.replay(state, into: pipe) else {
                state.everSubscribed += 1
                return .ended
            }
            let id = state.nextID
            state.nextID += 1
            state.everSubscribed += 1
            state.subscribers[id] = pipe
            return .live(id)
        }
        switch joined {
        case .refused: return nil
        case .ended: return events
        case .live(let id):
            pipe.onCancel { [weak self] in self?.leave(id) }
            return events
        }
    }

    private func leave(_ id: Int) {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.subscribers[id] = nil
            guard state.subscribers.isEmpty && !state.leaderPresent && state.outcome == nil else { return nil }
            state.abandoned = true
            return state.cancelUpstream
        }
        cancel?()
    }

    func publish(_ event: JSONValue) {
        let subscribers = state.withLock { state -> [EventPipe<JSONValue>] in
            guard state.outcome == nil else { return [] }
            state.events.append(event)
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    func finish(_ outcome: Outcome) {
        let subscribers = state.withLock { state -> [EventPipe<JSONValue>] in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            switch outcome {
            case .success: subscriber.finish()
            case .failure(let error): subscriber.finish(throwing: error)
            }
        }
    }
}

/// The flights in progress, by cache key.
package final class FlightTable: Sendable {
    private let flights = Mutex<[CacheKey: Flight]>([:])

    package init() {}

    /// The flight for `key`, and whether the caller leads it (and must start the upstream call).
    func join(_ key: CacheKey) -> (flight: Flight, leader: Bool) {
        flights.withLock { flights in
            if let flight = flights[key], !flight.isAbandoned { return (flight, false) }
            let flight = Flight()
            flights[key] = flight
            return (flight, true)
        }
    }

    /// The flight in progress for `key`; one everybody left (its call cancelled) is none.
    func existing(_ key: CacheKey) -> Flight? {
        flights.withLock { flights in flights[key].flatMap { $0.isAbandoned ? nil : $0 } }
    }

    func remove(_ key: CacheKey, _ flight: Flight) {
        flights.withLock { flights in
            if flights[key] === flight { flights[key] = nil }
        }
    }

    var count: Int { flights.withLock { $0.count } }

    /// The flights in the table, abandoned ones included (tests).
    var all: [Flight] { flights.withLock { Array($0.values) } }

    /// Subscribers that joined the flights now in progress (tests wait on it).
    var subscriberCountTotal: Int { flights.withLock { $0.values.reduce(0) { $0 + $1.subscriberCount } } }
}

/// What a client's rendering reads the flight's events from: a live pipe, or a flight that has
/// already ended.
protocol ServedEvents {
    mutating func next() async throws -> JSONValue?
    /// Whether `next()` would return at once (a stream writes what is ready together).
    var nextIsReady: Bool { get }
}

extension EventPipe<JSONValue>.Events.AsyncIterator: ServedEvents {}

/// A finished flight's events and its end, read in order.
struct FinishedEvents: ServedEvents {
    let events: [JSONValue]
    let failure: FlashgateError?
    private var position = 0

    init(events: [JSONValue], failure: FlashgateError?) {
        self.events = events
        self.failure = failure
    }

    mutating func next() throws -> JSONValue? {
        if position < events.count {
            position += 1
            return events[position - 1]
        }
        if let failure { throw failure }
        return nil
    }

    var nextIsReady: Bool { true }
}
