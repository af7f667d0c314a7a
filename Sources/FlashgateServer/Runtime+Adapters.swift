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
            openStores: { store in
                // The cache environment holds what may be lost in a crash (thought signatures, later
                // cached answers) and never waits for a disk flush; money will live apart from it.
                let cache = try StoreEnvironment.open(
                    directory: store.path + "/cache", maxSizeBytes: store.maxSizeBytes, durable: false)
                return RuntimeStores(
                    signatures: try LMDBSignatureStore(env: cache, logger: logger), close: { cache.close() })
            },
            closeTransport: { curl.shutdown() })
    }
}
