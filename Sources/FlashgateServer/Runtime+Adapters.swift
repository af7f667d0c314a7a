import FlashgateCore
import FlashgateStorage
import FlashgateUpstream
import Logging

extension Runtime {
    /// The production wiring: libcurl for HTTP routes, LMDB for the store.
    package convenience init(config: FlashgateConfig, logger: Logger) {
        CurlTransport.ignoreSIGPIPE()
        let curl = CurlTransport()
        self.init(
            config: config, logger: logger, http: curl,
            openStore: { store in
                try StoreEnvironment.open(directory: store.path, maxSizeBytes: store.maxSizeBytes)
            },
            closeTransport: { curl.shutdown() })
    }
}
