internal import CCurl
import FlashgateCore
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The real upstream transport: libcurl multi on one dedicated thread, HTTP/2 where offered and
/// pooled keep-alive connections otherwise, responses streamed as they arrive.
///
/// Invariants: never retries (the retry owner sits above); at most about `highWaterBytes` plus
/// one curl write (16 KiB) of body is buffered per response before the transfer is paused; a
/// response whose consumer stops iterating is removed from the multi handle promptly.
package final class CurlTransport: UpstreamTransport {
    /// Flow-control limits and test hooks.
    package struct Configuration: Sendable {
        /// Pause the transfer once this many body bytes wait for the consumer.
        package var highWaterBytes: Int
        /// Resume a paused transfer once the consumer has drained to this many bytes.
        package var lowWaterBytes: Int
        /// Connections open at once, and idle ones kept for reuse (`upstream.max_connections`).
        package var maxConnections: Int
        /// Called on the loop thread each time a transfer is paused; for tests.
        var onPause: (@Sendable () -> Void)?
        /// libcurl resends a request by itself, on a new connection, when a reused one dies before
        /// any byte of an answer. A request with a body is let through only when that happened
        /// within this long of the first send (a kept-alive connection the server had closed, a
        /// refused HTTP/2 stream: nothing generated); later it is refused and the retry owner,
        /// which counts and pays for attempts, decides (`CurlTransfer.mayStartSending`).
        package var resendWindow: Duration = .milliseconds(250)

        package init(
            highWaterBytes: Int = 256 * 1024, lowWaterBytes: Int = 64 * 1024,
            maxConnections: Int = FlashgateConfig.defaultUpstreamMaxConnections
        ) {
            precondition(lowWaterBytes >= 0 && lowWaterBytes < highWaterBytes, "low water must be below high water")
            precondition(maxConnections > 0, "the pool needs at least one connection")
            self.highWaterBytes = highWaterBytes
            self.lowWaterBytes = lowWaterBytes
            self.maxConnections = maxConnections
        }
    }

    package let stats = CurlTransportStats()
    private let configuration: Configuration
    private let loop: CurlMultiLoop

    /// `logger` gets a line per failed call naming its upstream (its error message does not).
    /// Throws when libcurl cannot be initialised: a startup error, not a crash.
    package init(
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "flashgate.upstream") { _ in SwiftLogNoOpLogHandler() }
    ) throws(FlashgateError) {
        self.configuration = configuration
        loop = try CurlMultiLoop(maxConnections: configuration.maxConnections, stats: stats, logger: logger)
    }

    deinit { loop.requestStop() }

    /// libcurl with `CURLOPT_NOSIGNAL` no longer guards its writes against SIGPIPE, so a peer that
    /// closes mid-write would kill the process. Call once at startup.
    package static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    package func send(_ request: UpstreamRequest) -> UpstreamResponse {
        let (pipe, events) = EventPipe<UpstreamEvent>.make()
        let timing = UpstreamTiming()
        let transfer = CurlTransfer(request: request, pipe: pipe, timing: timing, limits: configuration, stats: stats)
        let loop = self.loop
        pipe.onCancel { loop.post(.cancel(transfer)) }
        loop.post(.add(transfer))
        return UpstreamResponse(events, timing: timing) { count in
            if transfer.consumed(count) { loop.post(.resume(transfer)) }
        }
    }

    /// Stops the loop thread; open responses fail with `.unavailable`. Blocks briefly until the
    /// thread has released libcurl.
    package func shutdown() {
        loop.shutdown()
    }
}
