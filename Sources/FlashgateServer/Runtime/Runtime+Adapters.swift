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
            openStores: { config in try Runtime.openStores(config, logger: logger) },
            closeTransport: { curl.shutdown() }, reload: reload)
    }
}

extension Runtime {
    /// The store directory must be usable (a clear startup error otherwise). Inside it, the cache
    /// environment holds what may be lost in a crash (cached answers, thought signatures) and never
    /// waits for a disk flush; if it is damaged, Flashgate runs without a cache and says so.
    package static func openStores(
        _ config: FlashgateConfig, logger: Logger,
        nowMilliseconds: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        beforeLedgerCommit: (@Sendable () -> Void)? = nil
    ) throws -> RuntimeStores {
        let path = config.store.path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FlashgateError(.unavailable, "cannot create the store directory \(path)")
        }
        guard access(path, W_OK) == 0 else {
            throw FlashgateError(.unavailable, "the store directory \(path) is not writable")
        }
        // Money first: a ledger that cannot be opened stops the start, with its path.
        let ledger = try Ledger.open(
            directory: path + "/ledger", maxSizeBytes: config.ledgerMaxSizeBytes,
            options: Ledger.Options(queueCapacity: config.ledger.queueCapacity, beforeCommit: beforeLedgerCommit),
            logger: logger)
        // The per-install secret that seals thought signatures into Responses reasoning items.
        let seal: SignatureSeal
        do {
            seal = try SignatureSeal.load(directory: path)
        } catch {
            ledger.close()
            throw error
        }
        // Rows past `ledger.retention.rows` become hourly rollups, on the ledger's writer.
        let retention = ledger.retainPeriodically(config.ledger, nowMs: nowMilliseconds)
        let env: StoreEnvironment
        do {
            env = try StoreEnvironment.open(directory: path + "/cache", maxSizeBytes: config.store.maxSizeBytes, durable: false)
        } catch {
            logger.warning("response cache disabled: cannot open its store", metadata: ["path": "\(path)/cache", "error": "\(error)"])
            return RuntimeStores(
                signatures: MemorySignatureStore(), ledger: ledger, seal: seal,
                close: {
                    retention.cancel()
                    ledger.close()
                })
        }
        let cache: ResponseCacheStore?
        if config.cache.enabled {
            do {
                cache = try ResponseCacheStore(
                    env: env, maxBytes: config.cache.maxSizeBytes, now: nowMilliseconds, logger: logger)
                cache?.startSweeping(every: config.cache.sweepInterval)
            } catch {
                logger.warning("response cache disabled: its databases are damaged", metadata: ["error": "\(error)"])
                cache = nil
            }
        } else {
            cache = nil
        }
        let signatures: any SignatureStore =
            (try? LMDBSignatureStore(env: env, logger: logger)) ?? MemorySignatureStore()
        let conversations: any ConversationStore
        do {
            conversations = try LMDBConversationStore(env: env, logger: logger)
        } catch {
            logger.warning("stored responses kept in memory only: cannot open their database", metadata: ["error": "\(error)"])
            conversations = MemoryConversationStore()
        }
        return RuntimeStores(
            signatures: signatures, cache: cache, ledger: ledger, conversations: conversations, seal: seal,
            close: {
                cache?.close()
                env.close()
                retention.cancel()
                ledger.close()
            })
    }
}
