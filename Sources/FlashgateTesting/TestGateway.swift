import FlashgateCore
import FlashgateRouting
import FlashgateServer
import FlashgateStorage
import Logging

/// Starts a whole Flashgate in-process on port 0 for a test, with any transport and config.
package struct TestGateway: Sendable {
    package let running: Runtime.Running
    package var port: Int { running.tcpPort ?? 0 }

    package static func start(
        config: FlashgateConfig, http: any UpstreamTransport = MockTransport(),
        signatures: any SignatureStore = MemorySignatureStore(), storeDirectory: String? = nil,
        nowMilliseconds: @escaping @Sendable () -> Int64 = { 1_800_000_000_000 },
        clock: any RetryClock = SystemRetryClock(), random: any RandomNumberGenerator & Sendable = SeededRandom(seed: 1),
        accessLog: (@Sendable (String) -> Void)? = nil,
        reload: (@Sendable () throws -> FlashgateConfig)? = nil, log: (@Sendable (String) -> Void)? = nil,
        priceMadeUpModels: Bool = true, beforeLedgerCommit: (@Sendable () -> Void)? = nil
    ) async throws -> TestGateway {
        var config = config
        if config.listen.host != nil { config.listen.port = 0 }
        if priceMadeUpModels { Self.priceMadeUpModels(&config) }
        // The server log, at info into `log` when a test reads it.
        let logger: Logger
        if let log {
            logger = Logger(label: "flashgate-test") { LogFormatHandler(label: $0, level: .info, format: .logfmt, write: log) }
        } else {
            var quiet = Logger(label: "flashgate-test")
            quiet.logLevel = .critical
            logger = quiet
        }
        // With a store directory, the real LMDB stores (cache and signatures) are used.
        let openStores: @Sendable (FlashgateConfig) throws -> Stores
        if let storeDirectory {
            config.store.path = storeDirectory
            openStores = {
                try Stores.open(
                    $0, logger: logger, nowMilliseconds: nowMilliseconds, beforeLedgerCommit: beforeLedgerCommit)
            }
        } else {
            openStores = { _ in Stores(signatures: signatures) }
        }
        // A reloaded config gets the same test overrides as the first.
        let reloadConfig = reload.map { load in
            { @Sendable () throws -> FlashgateConfig in
                var config = try load()
                if config.listen.host != nil { config.listen.port = 0 }
                if priceMadeUpModels { Self.priceMadeUpModels(&config) }
                if let storeDirectory { config.store.path = storeDirectory }
                return config
            }
        }
        let runtime = Runtime(
            config: config, logger: logger, http: http, openStores: openStores, nowMilliseconds: nowMilliseconds,
            clock: clock, random: random,
            accessLogger: Logger(label: "flashgate.access") { label in
                LogFormatHandler(label: label, level: accessLog == nil ? .critical : .info, format: .logfmt, write: accessLog ?? { _ in })
            }, reload: reloadConfig)
        return TestGateway(running: try await runtime.start())
    }

    /// Most tests name made-up models (`m`, `flash`) that no price row knows, and Flashgate
    /// refuses a model without a price. Unless a test is about that refusal, it gets what an
    /// operator would configure: an explicit fallback row, here at $0 (so costs stay as they were).
    static func priceMadeUpModels(_ config: inout FlashgateConfig) {
        guard config.prices.prefix(for: "made-up-model") == nil else { return }
        config.prices.set(
            ModelPrice(input: 0, output: 0, cachedInput: 0, cacheStorage: 0, search: 0), prefix: PriceTable.fallbackPrefix)
    }

    /// A config with the built-in mock as a passthrough route.
    package static func mockConfig() -> FlashgateConfig {
        FlashgateConfig.embeddedDefaults(environment: [:])
    }

    package func stop() async { await running.stop() }
}
