import Synchronization

/// A one-consumer asynchronous stream for the hot path: the upstream events of a transfer and
/// a flight's events to each subscriber. It does what `AsyncThrowingStream` did there, with
/// storage the compiler specialises: the standard library's stream is generic code in another
/// module, and each of its operations looked up the metadata of its nested generic types at run
/// time (about 60k instructions per proxied request, by callgrind).
///
/// - The producer side (`yield`, `finish`) may be called from any thread; both do nothing once
///   the pipe has ended or its consumer has gone away. Elements are buffered without bound: the
///   producers (a curl transfer, a flight) apply their own backpressure.
/// - The consumer side is `Events`, an `AsyncSequence` iterated by one task at a time. Cancelling
///   that task while it waits, or dropping `Events` and its iterators before the end, cancels
///   the pipe: buffered elements are dropped, `next()` returns nil, and the `onCancel` action runs
///   once (a transfer is aborted, a subscriber leaves its flight).
/// - An error given to `finish(throwing:)` is thrown once, after every element yielded before it;
///   then `next()` returns nil.
package final class EventPipe<Element: Sendable>: Sendable {
    @usableFromInline
    enum End: Sendable {
        case finished
        case failed(any Error)
        case cancelled
    }

    @usableFromInline
    enum Taken: Sendable {
        case element(Element)
        case end((any Error)?)
        case empty
    }

    @usableFromInline
    struct State: Sendable {
        @usableFromInline var buffer: [Element] = []
        @usableFromInline var head = 0
        @usableFromInline var end: End?
        @usableFromInline var waiter: UnsafeContinuation<Element?, any Error>?
        @usableFromInline var onCancel: (@Sendable () -> Void)?

        @inlinable init() {}

        @inlinable
        mutating func take() -> Taken {
            if head < buffer.count {
                let element = buffer[head]
                head += 1
                if head == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    head = 0
                }
                return .element(element)
            }
            switch end {
            case nil: return .empty
            case .finished?, .cancelled?: return .end(nil)
            case .failed(let error)?:
                end = .finished
                return .end(error)
            }
        }
    }

    @usableFromInline let state: Mutex<State>

    @inlinable
    init() { state = Mutex(State()) }

    /// A new pipe and its consumer side. Hold the pipe to produce; hand `Events` to the consumer.
    @inlinable
    package static func make() -> (pipe: EventPipe, events: Events) {
        let pipe = EventPipe()
        return (pipe, Events(reader: Reader(pipe)))
    }

    /// Delivers `element` to the consumer (or buffers it). False when the pipe has ended.
    @inlinable @discardableResult
    package func yield(_ element: Element) -> Bool {
        let delivery = state.withLock { state -> (accepted: Bool, waiter: UnsafeContinuation<Element?, any Error>?) in
            guard state.end == nil else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.buffer.append(element)
            return (true, nil)
        }
        delivery.waiter?.resume(returning: element)
        return delivery.accepted
    }

    /// Delivers `elements` in order and, when `finishing`, ends the pipe after them (with `error`,
    /// if any): one lock and at most one wake-up of the consumer for what a producer gathered in
    /// one pass, so a consumer woken by the first element does not park again for the last.
    @inlinable
    package func send(_ elements: [Element], finishing: Bool = false, error: (any Error)? = nil) {
        deliver(elements, finishing: finishing, error: error)
    }

    @inlinable
    func deliver(_ elements: [Element], finishing: Bool, error: (any Error)?) {
        let wake = state.withLock {
            state -> (waiter: UnsafeContinuation<Element?, any Error>?, first: Element?, failure: (any Error)?) in
            guard state.end == nil else { return (nil, nil, nil) }
            var first: Element?
            var rest = elements[...]
            if state.waiter != nil, let head = rest.first {
                first = head
                rest = rest.dropFirst()
            }
            state.buffer.append(contentsOf: rest)
            if finishing {
                state.onCancel = nil
                state.end = error.map { .failed($0) } ?? .finished
            }
            guard let waiter = state.waiter, first != nil || finishing else { return (nil, nil, nil) }
            state.waiter = nil
            if first == nil, let error {
                // A waiting consumer has read everything: the error is its next and last word.
                state.end = .finished
                return (waiter, nil, error)
            }
            return (waiter, first, nil)
        }
        guard let waiter = wake.waiter else { return }
        if let failure = wake.failure {
            waiter.resume(throwing: failure)
        } else {
            waiter.resume(returning: wake.first)
        }
    }

    /// Ends the pipe after the elements already yielded: successfully, or with `error`.
    @inlinable
    package func finish(throwing error: (any Error)? = nil) {
        let waiter = state.withLock { state -> UnsafeContinuation<Element?, any Error>? in
            guard state.end == nil else { return nil }
            state.onCancel = nil
            guard let waiter = state.waiter else {
                state.end = error.map { .failed($0) } ?? .finished
                return nil
            }
            // A waiting consumer has read everything: it gets the end now.
            state.waiter = nil
            state.end = .finished
            return waiter
        }
        guard let waiter else { return }
        if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
    }

    /// The action to run once if the consumer goes away before the end; at once if it already has.
    @inlinable
    package func onCancel(_ action: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            switch state.end {
            case nil:
                state.onCancel = action
                return false
            case .cancelled?: return true
            case .finished?, .failed?: return false
            }
        }
        if runNow { action() }
    }

    /// Whether the consumer went away before the end.
    package var isCancelled: Bool {
        state.withLock { if case .cancelled? = $0.end { true } else { false } }
    }

    @inlinable
    func cancel() {
        let taken = state.withLock {
            state -> (waiter: UnsafeContinuation<Element?, any Error>?, action: (@Sendable () -> Void)?) in
            guard state.end == nil else { return (nil, nil) }
            state.end = .cancelled
            state.buffer = []
            state.head = 0
            defer {
                state.waiter = nil
                state.onCancel = nil
            }
            return (state.waiter, state.onCancel)
        }
        taken.waiter?.resume(returning: nil)
        taken.action?()
    }

    @inlinable
    func next() async throws -> Element? {
        if Task.isCancelled {
            cancel()
        }
        switch state.withLock({ $0.take() }) {
        case .element(let element): return element
        case .end(let error?): throw error
        case .end(nil): return nil
        case .empty: break
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (waiter: UnsafeContinuation<Element?, any Error>) in
                let taken = state.withLock { state -> Taken in
                    let taken = state.take()
                    if case .empty = taken { state.waiter = waiter }
                    return taken
                }
                switch taken {
                case .element(let element): waiter.resume(returning: element)
                case .end(let error?): waiter.resume(throwing: error)
                case .end(nil): waiter.resume(returning: nil)
                case .empty: break
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// The consumer's hold on the pipe: when the last copy of `Events` and of its iterators is
    /// gone, the pipe is cancelled (a no-op after the end).
    @usableFromInline
    final class Reader: Sendable {
        @usableFromInline let pipe: EventPipe

        @inlinable init(_ pipe: EventPipe) { self.pipe = pipe }

        deinit { pipe.cancel() }
    }

    /// The consumer side of a pipe.
    package struct Events: AsyncSequence, Sendable {
        package typealias Failure = any Error

        @usableFromInline let reader: Reader

        @inlinable init(reader: Reader) { self.reader = reader }

        package struct AsyncIterator: AsyncIteratorProtocol {
            @usableFromInline let reader: Reader

            @inlinable init(reader: Reader) { self.reader = reader }

            @inlinable
            package mutating func next() async throws -> Element? {
                try await reader.pipe.next()
            }

            /// Whether `next()` would return at once: an element is buffered, or the pipe ended.
            /// A consumer that writes what it took can then gather it with what follows into one
            /// write instead of one per element.
            @inlinable
            package var nextIsReady: Bool {
                reader.pipe.state.withLock { $0.head < $0.buffer.count || $0.end != nil }
            }
        }

        @inlinable
        package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }
    }
}

/// The curl thread's deliveries, specialised here: called from FlashgateUpstream, the generic
/// `send` ran unspecialised there (its closure looked up the metadata of `Optional`, `Array`,
/// `ArraySlice` and a tuple on every call, ~12k instructions a transfer).
extension EventPipe where Element == UpstreamEvent {
    package func send(_ elements: [UpstreamEvent], finishing: Bool = false, error: (any Error)? = nil) {
        deliver(elements, finishing: finishing, error: error)
    }
}
