import FlashgateCore
import Foundation
import Logging

/// Wires the real adapters for one configuration and runs them: store, transports, gateway,
/// listeners. `start` returns a running instance (tests use it in-process); `run` also waits
/// for SIGTERM or SIGINT and shuts down gracefully.
package final class Runtime: Sendable {
    package let config: FlashgateConfig
    let logger: Logger
    let http: any UpstreamTransport
    let openStore: @Sendable (StoreConfig) throws -> any Sendable
    let closeTransport: @Sendable () -> Void

    package init(
        config: FlashgateConfig, logger: Logger, http: any UpstreamTransport,
        openStore: @escaping @Sendable (StoreConfig) throws -> any Sendable,
        closeTransport: @escaping @Sendable () -> Void = {}
    ) {
        self.config = config
        self.logger = logger
        self.http = http
        self.openStore = openStore
        self.closeTransport = closeTransport
    }

    /// A started Flashgate.
    package struct Running: Sendable {
        package let server: HTTPServer
        package let gateway: Gateway
        let store: any Sendable
        let runtime: Runtime

        package var tcpPort: Int? { server.tcpPort }

        /// Stops accepting, drains in-flight requests within the grace period, closes everything.
        package func stop() async {
            runtime.logger.info("shutting down")
            gateway.readiness.set(false)
            await server.shutdown(grace: runtime.config.limits.shutdownGrace)
            runtime.closeTransport()
            runtime.logger.info("stopped")
        }
    }

    package func start() async throws -> Running {
        let store: any Sendable
        do {
            store = try openStore(config.store)
        } catch {
            throw FlashgateError(.unavailable, "cannot open the store at \(config.store.path): \(error)")
        }
        let readiness = Readiness()
        let gateway = Gateway(
            routes: RouteTable(config: config, http: http), readiness: readiness, logger: logger,
            now: { Int(Date().timeIntervalSince1970) }, media: UpstreamMediaFetcher(transport: http, config: config.media))
        let server = try await HTTPServer.start(
            listen: config.listen, limits: config.limits, gateway: gateway, logger: logger)
        readiness.set(true)
        logStartup(server)
        return Running(server: server, gateway: gateway, store: store, runtime: self)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    package func run() async throws {
        let signals = SignalWaiter([SIGTERM, SIGINT])
        let running = try await start()
        let signal = await signals.wait()
        logger.info("signal received", metadata: ["signal": "\(signal == SIGTERM ? "SIGTERM" : "SIGINT")"])
        await running.stop()
    }

    private func logStartup(_ server: HTTPServer) {
        if let host = config.listen.host, let port = server.tcpPort {
            logger.info("listening", metadata: ["address": "\(host):\(port)"])
        }
        if let socket = config.listen.socketPath {
            logger.info("listening", metadata: ["socket": "\(socket)", "mode": "\(String(config.listen.socketMode, radix: 8))"])
        }
        for route in config.routes {
            switch route.kind {
            case .mock:
                let hint = route.passthrough ? " (set GEMINI_API_KEY to forward to Google instead)" : ""
                logger.notice(
                    "route '\(route.name)' is the built-in offline mock model: answers are echoes, not Gemini\(hint)")
            case .gemini:
                logger.info(
                    "route", metadata: ["name": "\(route.name)", "base_url": "\(route.baseURL)", "key": "\(route.apiKey == nil ? "none" : "set")"])
            }
        }
    }
}

/// Waits for one of a set of signals without a signal handler doing any work itself.
final class SignalWaiter: @unchecked Sendable {
    /// Kept only so the sources stay alive; never touched after `init`.
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    init(_ signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    func wait() async -> Int32 {
        for await signal in stream { return signal }
        return SIGTERM
    }
}
