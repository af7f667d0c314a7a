import FlashgateCore
import FlashgateStorage
import FlashgateUpstream
import Foundation
import Logging

extension Runtime {
    /// The production wiring: libcurl for HTTP routes, LMDB for the store. Throws when libcurl
    /// cannot be initialised.
    package convenience init(
        config: FlashgateConfig, logger: Logger, reload: (@Sendable () throws -> FlashgateConfig)? = nil
    ) throws {
        CurlTransport.ignoreSIGPIPE()
        let curl = try CurlTransport(
            configuration: CurlTransport.Configuration(maxConnections: config.upstreamMaxConnections), logger: logger)
        self.init(
            config: config, logger: logger, http: curl,
            openStores: { config in try Stores.open(config, logger: logger) },
            closeTransport: { curl.shutdown() }, reload: reload)
    }
}
