import FlashgateCore
import FlashgateServer
import Logging

/// Starts a whole Flashgate in-process on port 0 for a test, with any transport and config.
package struct TestGateway: Sendable {
    package let running: Runtime.Running
    package var port: Int { running.tcpPort ?? 0 }

    package static func start(
        config: FlashgateConfig, http: any UpstreamTransport = MockTransport(),
        signatures: any SignatureStore = InMemorySignatureStore()
    ) async throws -> TestGateway {
        var config = config
        if config.listen.host != nil { config.listen.port = 0 }
        var logger = Logger(label: "flashgate-test")
        logger.logLevel = .critical
        let runtime = Runtime(
            config: config, logger: logger, http: http, openStores: { _ in RuntimeStores(signatures: signatures) })
        return TestGateway(running: try await runtime.start())
    }

    /// A config with the built-in mock as a passthrough route.
    package static func mockConfig() -> FlashgateConfig {
        FlashgateConfig.embeddedDefaults(environment: [:])
    }

    package func stop() async { await running.stop() }
}
