import Synchronization
/// How long an upstream exchange may take, phase by phase. Zero means no limit for that phase.
package struct UpstreamTimeouts: Sendable, Equatable {
    package var connect: Duration
    package var firstByte: Duration
    package var idle: Duration
    package var total: Duration

    package init(connect: Duration, firstByte: Duration, idle: Duration, total: Duration) {
        self.connect = connect
        self.firstByte = firstByte
        self.idle = idle
        self.total = total
    }

    package static let standard = UpstreamTimeouts(
        connect: .seconds(10), firstByte: .seconds(300), idle: .seconds(120), total: .seconds(900))

    /// Flex calls queue at Google for 1–15 minutes before they start (ai.google.dev flex-inference;
    /// Vertex's own client default is 20 minutes), so their first byte may take 15 minutes.
    package static let flex = UpstreamTimeouts(
        connect: .seconds(10), firstByte: .seconds(900), idle: .seconds(120), total: .seconds(1200))
}

/// One HTTP request to an upstream. Headers carry credentials, so the type is never logged.
package struct UpstreamRequest: Sendable {
    package var method: String
    package var url: String
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    package var timeouts: UpstreamTimeouts
    /// When set, the request goes over this Unix domain socket instead of TCP; `url` still gives
    /// the scheme, the `Host` header and the path (e.g. `http://localhost/metrics`). Only plain
    /// `http://` makes sense here. nil (the default) connects to the URL's host as usual.
    package var unixSocketPath: String?
    /// When set, the connection goes to this address (and the URL's port) whatever the URL's host
    /// resolves to when the transfer starts; TLS (SNI, the certificate's name) and the `Host`
    /// header still name the URL's host (libcurl's `CURLOPT_CONNECT_TO`). Through a proxy, the
    /// proxy is asked to connect to this address. Media fetches pin the address they checked.
    package var connectAddress: NetworkAddress?

    package init(
        method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        timeouts: UpstreamTimeouts = .standard, unixSocketPath: String? = nil, connectAddress: NetworkAddress? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
        self.unixSocketPath = unixSocketPath
        self.connectAddress = connectAddress
    }
}

/// What an upstream response yields: exactly one `head`, then body chunks as they arrive.
package enum UpstreamEvent: Sendable, Equatable {
    case head(status: Int, headers: [UpstreamHeader])
    case body([UInt8])
}

package struct UpstreamHeader: Sendable, Equatable {
    package var name: String
    package var value: String

    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Whether this header is `lowercaseName` (header names match in any case).
    package func named(_ lowercaseName: StaticString) -> Bool {
        ASCIICase.equals(name.utf8, lowercaseName)
    }
}

extension Sequence<UpstreamHeader> {
    /// The first value of the header `lowercaseName`, matched in any case.
    package func value(of lowercaseName: StaticString) -> String? {
        first { $0.named(lowercaseName) }?.value
    }
}

/// A streamed upstream response. Iterating it pulls bytes from the transport; every consumed
/// body chunk is reported through `consumed` so the transport can apply backpressure.
/// Dropping the iterator or cancelling the consuming task aborts the transfer.
/// Failures are thrown as `FlashgateError` (`.upstreamUnreachable`, `.upstreamTimeout`,
/// `.upstreamProtocol`).
package struct UpstreamResponse: AsyncSequence, Sendable {
    package typealias Element = UpstreamEvent
    package typealias Failure = any Error

    enum Base: Sendable {
        case stream(AsyncThrowingStream<UpstreamEvent, any Error>)
        case pipe(EventPipe<UpstreamEvent>.Events)
    }

    let base: Base
    let consumed: @Sendable (Int) -> Void
    /// How long the transport itself took to the response head, when it measures that.
    package let timing: UpstreamTiming?

    package init(
        _ base: AsyncThrowingStream<UpstreamEvent, any Error>, consumed: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.base = .stream(base)
        self.consumed = consumed
        self.timing = nil
    }

    /// A response fed through an `EventPipe` (the curl transport's).
    package init(
        _ events: EventPipe<UpstreamEvent>.Events, timing: UpstreamTiming? = nil,
        consumed: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.base = .pipe(events)
        self.consumed = consumed
        self.timing = timing
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        enum Base {
            case stream(AsyncThrowingStream<UpstreamEvent, any Error>.AsyncIterator)
            case pipe(EventPipe<UpstreamEvent>.Events.AsyncIterator)
        }

        var base: Base
        let consumed: @Sendable (Int) -> Void

        package mutating func next() async throws -> UpstreamEvent? {
            let event: UpstreamEvent?
            switch base {
            case .pipe(var iterator):
                event = try await iterator.next()
                base = .pipe(iterator)
            case .stream(var iterator):
                event = try await iterator.next(isolation: #isolation)
                base = .stream(iterator)
            }
            if case .body(let bytes) = event { consumed(bytes.count) }
            return event
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        switch base {
        case .stream(let stream): AsyncIterator(base: .stream(stream.makeAsyncIterator()), consumed: consumed)
        case .pipe(let events): AsyncIterator(base: .pipe(events.makeAsyncIterator()), consumed: consumed)
        }
    }
}

/// The transport's own time to a response head: for libcurl, from the transfer joining the
/// curl loop to its head arriving there, which leaves out the hand-offs between the request's
/// event loop and the curl thread, and building the request. Written once by the transport
/// before it delivers `.head`; read by the consumer after it received `.head` (the event's
/// delivery orders the two).
package final class UpstreamTiming: Sendable {
    private let nanos = Atomic<Int64>(-1)

    package init() {}

    package func noteHead(after elapsed: Duration) {
        let (seconds, attoseconds) = elapsed.components
        nanos.store(seconds * 1_000_000_000 + attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    package var toHead: Duration? {
        let value = nanos.load(ordering: .relaxed)
        return value < 0 ? nil : .nanoseconds(value)
    }
}

/// The port every upstream adapter implements: libcurl for real routes, the offline mock for
/// `mock` routes. Implementations never retry; the single retry owner sits above them.
package protocol UpstreamTransport: Sendable {
    func send(_ request: UpstreamRequest) -> UpstreamResponse
}
