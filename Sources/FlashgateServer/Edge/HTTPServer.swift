import FlashgateCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The listeners: a TCP address, a Unix socket, or both, serving HTTP/1.1 with keep-alive and
/// pipelining-safe ordering. Owns the shutdown sequence: stop accepting, let in-flight requests
/// finish within the grace period, close the rest, remove the socket file.
/// Invariant: every listener backs off after a failed accept (out of file descriptors) instead
/// of spinning, and says so in the log (`AcceptErrorLogger`); every connection's HTTP decoder
/// refuses heads over `limits.max_header_bytes`, which the connection answers with 431.
package final class HTTPServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channels: [any Channel]
    package let connections: ConnectionRegistry
    private let socketPath: String?
    /// The bound TCP port (useful when configured as 0).
    package let tcpPort: Int?
    /// The listening channels (TCP, Unix socket), for tests that look at their pipelines.
    package var listeners: [any Channel] { channels }
    private let logger: Logger

    private init(
        group: MultiThreadedEventLoopGroup, channels: [any Channel], connections: ConnectionRegistry, socketPath: String?,
        tcpPort: Int?, logger: Logger
    ) {
        self.group = group
        self.channels = channels
        self.connections = connections
        self.socketPath = socketPath
        self.tcpPort = tcpPort
        self.logger = logger
    }

    package static func start(
        listen: ListenConfig, limits: LimitsConfig, gateways: GatewayHolder, logger: Logger,
        threads: Int = System.coreCount, connections: ConnectionRegistry = ConnectionRegistry()
    ) async throws -> HTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        if ThreadScheduling.chosen != .normal {
            // Each event loop applies `process.scheduling` to its own thread before it serves.
            let applied = group.makeIterator().map { loop in
                loop.submit { ThreadScheduling.applyToCurrentThread() }
            }
            for result in applied where try await !result.get() {
                logger.warning("the kernel refused process.scheduling for an event loop; it keeps the default policy")
            }
        }
        let decoderLimits = {
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
            decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
            return decoderLimits
        }()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            // The futures-based `bind` adds no `AcceptBackoffHandler` of its own.
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let name = channel.localAddress?.protocol == .unix ? "unix" : "tcp"
                    try channel.pipeline.syncOperations.addHandlers(
                        AcceptErrorLogger.handlers(listener: name, logger: logger))
                }
            }
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if channel.localAddress?.protocol != .unix {
                        try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
                    }
                    let connection = HTTPConnectionHandler(gateways: gateways, limits: limits, connections: connections)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(WriteBackpressureHandler())
                    try sync.addHandler(ByteActivityHandler(connection: connection))
                    // Parser errors are answered by the connection handler (a JSON error, then close).
                    // Responses are written by Flashgate's own encoder (`HTTP1ResponseEncoder`), which
                    // frames and checks them as NIO's encoder and header validator did, in one pass.
                    try sync.addHandler(
                        ByteToMessageHandler(
                            HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits)))
                    try sync.addHandler(HTTP1ResponseEncoder())
                    try sync.addHandler(HTTPServerPipelineHandler())
                    try sync.addHandler(connection)
                    connections.add(channel)
                }
            }
        var bound: [any Channel] = []
        var port: Int?
        do {
            if let host = listen.host {
                let channel = try await bootstrap.bind(host: host, port: listen.port).get()
                port = channel.localAddress?.port
                bound.append(channel)
            }
            if let path = listen.socketPath {
                let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                guard chmod(path, mode_t(listen.socketMode)) == 0 else {
                    throw FlashgateError(.internal, "cannot set mode \(String(listen.socketMode, radix: 8)) on \(path)")
                }
                bound.append(channel)
            }
        } catch {
            for channel in bound { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        return HTTPServer(
            group: group, channels: bound, connections: connections, socketPath: listen.socketPath, tcpPort: port,
            logger: logger)
    }

    /// Stops accepting, waits up to `grace` for in-flight requests, then closes everything.
    package func shutdown(grace: Duration) async {
        for channel in channels { try? await channel.close() }
        if let socketPath { unlink(socketPath) }
        let inFlight = connections.inFlightRequests
        if inFlight > 0 { logger.info("draining", metadata: ["in_flight": "\(inFlight)"]) }
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask { [connections] in
                await connections.drain()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !drained {
            logger.warning("grace period over; closing connections", metadata: ["in_flight": "\(connections.inFlightRequests)"])
        }
        await connections.closeAll()
        try? await group.shutdownGracefully()
    }
}
