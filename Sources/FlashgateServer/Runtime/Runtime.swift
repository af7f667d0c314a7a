import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateUpstream
import Foundation
import Logging

/// Wires the real adapters for one configuration and runs them: store, transports, gateway,
/// listeners. `start` returns a running instance (tests use it in-process); `run` also waits
/// for SIGTERM or SIGINT and shuts down gracefully, and reloads the config on SIGHUP.
package final class Runtime: Sendable {
    package let config: FlashgateConfig
    let logger: Logger
    let http: any UpstreamTransport
    let openStores: @Sendable (FlashgateConfig) throws -> Stores
    let nowMilliseconds: @Sendable () -> Int64
    let closeTransport: @Sendable () -> Void
    /// The retry loop's clock and random source (backoff jitter, weighted route order).
    let clock: any RetryClock
    let random: any RandomNumberGenerator & Sendable
    /// The access log (`log.access`), one line per request.
    let accessLogger: Logger
    /// `log.access`, switchable by a reload.
    let accessLogSwitch: OnOffSwitch
    /// Loads the config again from the source it came from (file, flags, environment), for a
    /// reload; nil when there is nothing to reload from.
    let reloadConfig: (@Sendable () throws -> FlashgateConfig)?

    package init(
        config: FlashgateConfig, logger: Logger, http: any UpstreamTransport,
        openStores: @escaping @Sendable (FlashgateConfig) throws -> Stores,
        closeTransport: @escaping @Sendable () -> Void = {},
        nowMilliseconds: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        clock: any RetryClock = SystemRetryClock(), random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        accessLogger: Logger = Logger(label: "flashgate.access"),
        reload: (@Sendable () throws -> FlashgateConfig)? = nil
    ) {
        self.reloadConfig = reload
        self.accessLogSwitch = OnOffSwitch(config.log.access)
        self.accessLogger = accessLogger
        self.clock = clock
        self.random = random
        self.nowMilliseconds = nowMilliseconds
        self.config = config
        self.logger = logger
        self.http = http
        self.openStores = openStores
        self.closeTransport = closeTransport
    }

    /// A started Flashgate.
    package struct Running: Sendable {
        package let server: HTTPServer
        /// The gateway new requests go to; a reload replaces it.
        let gateways: GatewayHolder
        package var gateway: Gateway { gateways.current }
        let stores: Stores
        let runtime: Runtime

        package var tcpPort: Int? { server.tcpPort }

        /// Stops accepting, drains in-flight requests within the grace period, closes everything.
        package func stop() async {
            runtime.logger.info("shutting down")
            gateway.readiness.set(false)
            await server.shutdown(grace: runtime.config.limits.shutdownGrace)
            runtime.closeTransport()
            // Context caches live on upstream until they expire: their booked rent is recorded.
            await gateway.contextCaches.shutdown()
            // Unused lease remainders go back to their budgets before the ledger closes.
            gateway.accountant.stopLeaseSweeper()
            gateway.accountant.returnAllLeases()
            stores.close()
            gateway.accountant.shared?.close()
            runtime.logger.info("stopped")
        }
    }

    package func start() async throws -> Running {
        let stores: Stores
        do {
            stores = try openStores(config)
        } catch {
            throw FlashgateError(.unavailable, "cannot open the store at \(config.store.path): \(error)")
        }
        let readiness = Readiness()
        let accountant = Accountant(
            config: config, ledger: stores.ledger, logger: logger, nowMilliseconds: nowMilliseconds, clock: clock)
        do {
            try accountant.start()
        } catch {
            stores.close()
            throw FlashgateError(.unavailable, "cannot recover the usage ledger: \(error)")
        }
        accountant.startLeaseSweeper()
        let tokens: [String: any AccessTokenSource]
        do {
            tokens = try Self.tokenSources(config, transport: http, nowMilliseconds: nowMilliseconds)
        } catch {
            stores.close()
            throw error
        }
        let connections = ConnectionRegistry()
        let metrics = config.metrics.enabled ? PrometheusTelemetry(config: config) : nil
        let gateway = Gateway(
            config: config, routes: RouteTable(config: config, http: http, tokens: tokens, random: random),
            readiness: readiness, signatures: stores.signatures, cache: stores.cache, accountant: accountant, logger: logger,
            now: { Int(Date().timeIntervalSince1970) }, nowMilliseconds: nowMilliseconds,
            media: UpstreamMediaFetcher(transport: http, config: config.media), clock: clock, random: random,
            telemetry: telemetrySinks(metrics: metrics, ledger: stores.ledger), metrics: metrics, connections: connections,
            conversations: stores.conversations, seal: stores.seal,
            contextCacheBook: ContextCacheBook(store: stores.contextPrefixes))
        let gateways = GatewayHolder(gateway)
        let server: HTTPServer
        do {
            server = try await HTTPServer.start(
                listen: config.listen, limits: config.limits, gateways: gateways, logger: logger, connections: connections)
        } catch {
            stores.close()
            throw error
        }
        readiness.set(true)
        logStartup(server)
        return Running(server: server, gateways: gateways, stores: stores, runtime: self)
    }

    /// Where finished requests are reported: the access log, this Flashgate's own metrics
    /// registry (never a process-wide one, so several Flashgates can run in one process), and the
    /// ledger's refusal counters.
    private func telemetrySinks(metrics: PrometheusTelemetry?, ledger: Ledger?) -> (any TelemetrySink)? {
        var sinks: [any TelemetrySink] = []
        sinks.append(AccessLog(logger: accessLogger, enabled: accessLogSwitch))
        if let metrics { sinks.append(metrics) }
        if let ledger { sinks.append(RefusalRecorder(ledger: ledger, nowMilliseconds: nowMilliseconds)) }
        return sinks.isEmpty ? nil : TelemetrySinks(sinks)
    }

    /// The access-token source of each Vertex route that uses OAuth.
    static func tokenSources(
        _ config: FlashgateConfig, transport: any UpstreamTransport, nowMilliseconds: @escaping @Sendable () -> Int64
    ) throws -> [String: any AccessTokenSource] {
        var sources: [String: any AccessTokenSource] = [:]
        for route in config.routes {
            guard route.kind == .vertex, let vertex = route.vertex else { continue }
            do {
                sources[route.name] = try VertexAuth.source(
                    for: vertex.credentials, tokenURL: vertex.tokenURL, transport: transport,
                    now: { nowMilliseconds() / 1000 })
            } catch {
                throw FlashgateError(.unavailable, "route '\(route.name)': \(error)")
            }
        }
        return sources
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully. SIGHUP reloads the config
    /// (`Running.reload`); a refused reload is logged and serving goes on unchanged.
    package func run() async throws {
        let signals = SignalWaiter([SIGTERM, SIGINT, SIGHUP])
        let running = try await start()
        for await signal in signals.stream {
            if signal == SIGHUP {
                logger.info("signal received", metadata: ["signal": "SIGHUP"])
                _ = try? running.reload()
                continue
            }
            logger.info("signal received", metadata: ["signal": "\(signal == SIGTERM ? "SIGTERM" : "SIGINT")"])
            break
        }
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
            case .gemini, .openai, .vertex:
                logger.info(
                    "route",
                    metadata: [
                        "name": "\(route.name)", "kind": "\(route.kind.rawValue)", "base_url": "\(route.baseURL)",
                        "keys": "\(route.apiKeys.count)",
                    ])
            }
        }
        for problem in config.unpricedModels() { logger.warning("\(problem)") }
    }
}

/// Waits for one of a set of signals without a signal handler doing any work itself.
final class SignalWaiter: @unchecked Sendable {
    /// Kept only so the sources stay alive; never touched after `init`.
    private let sources: [any DispatchSourceSignal]
    /// Every signal received, in order.
    let stream: AsyncStream<Int32>

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
}
