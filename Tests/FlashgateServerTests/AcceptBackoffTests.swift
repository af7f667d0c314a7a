import FlashgateCore
import FlashgateTesting
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import FlashgateServer

/// A listener out of file descriptors: it backs off instead of spinning on accept, and says so in
/// the log, one line per interval with a count. The decision logic runs on a made-up clock; the
/// real listeners are checked for the handlers.
@Suite struct AcceptBackoffTests {
    @Test func everyListenerBacksOffAndLogsFailedAccepts() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var config = TestGateway.mockConfig()
        config.listen.socketPath = directory.path + "/fg.sock"
        let gateway = try await TestGateway.start(config: config)
        let listeners = gateway.running.server.listeners
        #expect(listeners.count == 2)
        for listener in listeners {
            _ = try await listener.pipeline.handler(type: AcceptBackoffHandler.self).get()
            _ = try await listener.pipeline.handler(type: AcceptErrorLogger.self).get()
        }
        await gateway.stop()
    }

    @Test func rateLimiterLetsOneLineThroughPerIntervalWithTheCount() {
        let start = ContinuousClock.now
        var limiter = LogRateLimiter<ContinuousClock.Instant>(interval: .seconds(10))
        #expect(limiter.record(at: start) == 1)
        for millis in 1...999 { #expect(limiter.record(at: start + .milliseconds(millis)) == nil) }
        #expect(limiter.record(at: start + .seconds(10)) == 1000)
        #expect(limiter.record(at: start + .seconds(11)) == nil)
        #expect(limiter.record(at: start + .seconds(25)) == 2)
    }

    @Test func failedAcceptsAreLoggedRateLimited() throws {
        let lines = AccessLogTests.Lines()
        let logger = Logger(label: "flashgate") {
            LogFormatHandler(label: $0, level: .info, format: .logfmt, write: { lines.add($0) })
        }
        let start = ContinuousClock.now
        let clock = ManualNow(start)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            AcceptErrorLogger(listener: "tcp", logger: logger, interval: .seconds(10), now: { clock.instant }))
        for _ in 0..<500 { channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept")) }
        #expect(lines.all.count == 1)
        clock.instant = start + .seconds(10)
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(lines.all.count == 2)
        let second = try #require(lines.all.last)
        #expect(second.contains("failures=500") && second.contains("listener=tcp"), "\(second)")
        #expect(second.contains("level=warning") && second.contains("backoff_ms=100"), "\(second)")
        // The errors stop here: nothing further down the pipeline sees them.
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        _ = try channel.finish()
    }
}

/// A settable "now" for the logger's rate limit (the test runs on one thread).
private final class ManualNow {
    var instant: ContinuousClock.Instant
    init(_ instant: ContinuousClock.Instant) { self.instant = instant }
}
