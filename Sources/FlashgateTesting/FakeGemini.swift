import NIOCore
import NIOHTTP1
import NIOPosix

/// An in-process fake of the Gemini HTTP API on loopback, for hermetic tests of every layer.
/// Replies are scripted FIFO (one per request) or fall back to plausible defaults; timing is
/// controlled with `FakeGate`s rather than sleeps. HTTP/1.1 with keep-alive.
/// Invariant: everything it records is behind one lock (`FakeGeminiLedger`), so tests may read
/// it from any task while connections are being served.
package final class FakeGemini: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let ledger: FakeGeminiLedger
    package let port: Int

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, ledger: FakeGeminiLedger, port: Int) {
        self.group = group
        self.channel = channel
        self.ledger = ledger
        self.port = port
    }

    /// Binds an ephemeral port on `host` and starts serving.
    package static func start(host: String = "127.0.0.1") async throws -> FakeGemini {
        try await start { try await $0.bind(host: host, port: 0).get() }
    }

    /// Listens on a Unix domain socket at `unixSocketPath` (which must not exist yet) instead of
    /// TCP; `port` is then 0 and `baseURL` only names the scheme and path for clients.
    package static func start(unixSocketPath: String) async throws -> FakeGemini {
        try await start { try await $0.bind(unixDomainSocketPath: unixSocketPath).get() }
    }

    private static func start(bind: (ServerBootstrap) async throws -> any Channel) async throws -> FakeGemini {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let ledger = FakeGeminiLedger()
        do {
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    ledger.connectionOpened()
                    channel.closeFuture.whenComplete { _ in ledger.connectionClosed() }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(FakeGeminiHandler(ledger: ledger))
                    }
                }
            let channel = try await bind(bootstrap)
            guard let address = channel.localAddress else {
                try? await channel.close()
                throw ChannelError.unknownLocalAddress
            }
            return FakeGemini(group: group, channel: channel, ledger: ledger, port: address.port ?? 0)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    package var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Scripts the reply to a future request; replies are used in the order enqueued.
    package func enqueue(_ reply: FakeReply) { ledger.enqueue(reply) }

    /// Drops every scripted reply not sent yet.
    package func clearReplies() { ledger.clearQueue() }

    /// Its `cachedContents` store: what caches exist, their owners, and the fake's cache rules.
    package var cachedContents: FakeCachedContents { ledger.caches }

    /// Every request received so far, in arrival order.
    package var received: [FakeRequest] { ledger.received }
    package var requestCount: Int { ledger.count(.requests) }
    /// TCP connections accepted so far; stays at 1 when a client reuses its connection.
    package var connectionCount: Int { ledger.count(.openedConnections) }
    package var closedConnectionCount: Int { ledger.count(.closedConnections) }

    /// Returns once at least `count` requests have been received in total.
    package func waitForRequests(_ count: Int) async { await ledger.wait(until: .requests, reaches: count) }

    /// Returns once at least `count` connections have been closed (by either side) in total.
    package func waitForClosedConnections(_ count: Int) async {
        await ledger.wait(until: .closedConnections, reaches: count)
    }

    /// Closes the listener and every open connection. Gates opened afterwards have no effect.
    package func shutdown() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}
