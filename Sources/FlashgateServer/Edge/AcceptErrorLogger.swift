import FlashgateCore
import Logging
import NIOCore

/// Sits on a listener right after NIO's `AcceptBackoffHandler` and logs why accepting failed
/// (EMFILE/ENFILE when the process or host is out of file descriptors, ENOBUFS, ENOMEM), at most
/// one line per interval with the number of failures it stands for.
///
/// Why: without the backoff a listener whose accept fails stays readable, and its event loop
/// spins at full CPU retrying; without this line the operator sees nothing. Invariant: errors are
/// consumed here (the tail of the pipeline would drop them unlogged); accepted channels pass on
/// untouched.
final class AcceptErrorLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    /// How long a listener waits before accepting again after a failed accept.
    static let backoff: TimeAmount = .milliseconds(100)
    /// At most one log line per this interval.
    static let logInterval: Duration = .seconds(10)

    private let logger: Logger
    private let now: () -> ContinuousClock.Instant
    private var limiter: LogRateLimiter<ContinuousClock.Instant>
    private let listener: String

    init(
        listener: String, logger: Logger, interval: Duration = AcceptErrorLogger.logInterval,
        now: @escaping () -> ContinuousClock.Instant = { .now }
    ) {
        self.listener = listener
        self.logger = logger
        self.now = now
        limiter = LogRateLimiter(interval: interval)
    }

    /// The two handlers a listener gets, in pipeline order.
    static func handlers(listener: String, logger: Logger) -> [any ChannelHandler] {
        [
            AcceptBackoffHandler(shouldForwardIOErrorCaught: true) { _ in AcceptErrorLogger.backoff },
            AcceptErrorLogger(listener: listener, logger: logger),
        ]
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let failures = limiter.record(at: now()) else { return }
        logger.warning(
            "cannot accept connections; backing off",
            metadata: [
                "listener": "\(listener)", "error": "\(error)", "failures": "\(failures)",
                "backoff_ms": "\(Self.backoff.nanoseconds / 1_000_000)",
            ])
    }
}
