import FlashgateCore
import Foundation
import Logging

/// What the store directory holds for a running Flashgate, and how to close it: the durable
/// ledger (money first: a ledger that cannot be opened stops the start), the per-install seal,
/// and the cache environment (cached answers, thought signatures, stored Responses), which may be
/// lost in a crash and degrades to memory or off, with a warning, when it cannot be opened.
package struct Stores: Sendable {
    package var signatures: any SignatureStore
    package var cache: ResponseCacheStore?
    /// The durable usage ledger; nil only in tests that do not need one.
    package var ledger: Ledger?
    /// Stored Responses answers (`store: true`).
    package var conversations: any ConversationStore
    /// Seals thought signatures into Responses reasoning items.
    package var seal: SignatureSeal
    /// Automatic context caching's prefix statistics (nil: kept in memory only).
    package var contextPrefixes: (any ContextPrefixStore)?
    package var close: @Sendable () -> Void

    package init(
        signatures: any SignatureStore, cache: ResponseCacheStore? = nil, ledger: Ledger? = nil,
        conversations: any ConversationStore = MemoryConversationStore(), seal: SignatureSeal = .ephemeral(),
        contextPrefixes: (any ContextPrefixStore)? = nil, close: @escaping @Sendable () -> Void = {}
    ) {
        self.contextPrefixes = contextPrefixes
        self.signatures = signatures
        self.conversations = conversations
        self.seal = seal
        self.cache = cache
        self.ledger = ledger
        self.close = close
    }
}

extension Stores {
    /// The store directory must be usable (a clear startup error otherwise). Inside it, the cache
    /// environment holds what may be lost in a crash (cached answers, thought signatures) and never
    /// waits for a disk flush; if it is damaged, Flashgate runs without a cache and says so.
    package static func open(
        _ config: FlashgateConfig, logger: Logger,
        nowMilliseconds: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        beforeLedgerCommit: (@Sendable () -> Void)? = nil
    ) throws -> Stores {
        let path = config.store.path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FlashgateError(.unavailable, "cannot create the store directory \(path)")
        }
        guard access(path, W_OK) == 0 else {
            throw FlashgateError(.unavailable, "the store directory \(path) is not writable")
        }
        // One server per store: a second one's recovery would charge the first one's open
        // leases as spent.
        let lock: StoreLock
        do {
            lock = try StoreLock(directory: path)
        } catch {
            throw FlashgateError(.unavailable, error.message)
        }
        // Money first: a ledger that cannot be opened stops the start, with its path.
        let ledger: Ledger
        do {
            ledger = try Ledger.open(
            directory: path + "/ledger", maxSizeBytes: config.ledgerMaxSizeBytes,
            options: Ledger.Options(
                queueCapacity: config.ledger.queueCapacity, beforeCommit: beforeLedgerCommit,
                commitInterval: config.ledger.durability == .lease ? config.ledger.commitInterval : .zero),
            logger: logger)
        } catch {
            lock.release()
            throw error
        }
        // The per-install secret that seals thought signatures into Responses reasoning items.
        let seal: SignatureSeal
        do {
            seal = try SignatureSeal.load(directory: path)
        } catch {
            ledger.close()
            lock.release()
            throw error
        }
        // Rows past `ledger.retention.rows` become hourly rollups, on the ledger's writer.
        let retention = ledger.retainPeriodically(config.ledger, nowMs: nowMilliseconds)
        let env: StoreEnvironment
        do {
            // Nine named databases today (cache ×4, signatures, responses ×2, context caches ×2).
            env = try StoreEnvironment.open(
                directory: path + "/cache", maxSizeBytes: config.store.maxSizeBytes, maxDatabases: 16, durable: false)
        } catch {
            logger.warning("response cache disabled: cannot open its store", metadata: ["path": "\(path)/cache", "error": "\(error)"])
            return Stores(
                signatures: MemorySignatureStore(), ledger: ledger, seal: seal,
                close: {
                    retention.cancel()
                    ledger.close()
                    lock.release()
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
        let prefixes: LMDBContextPrefixStore?
        do {
            prefixes = try LMDBContextPrefixStore(env: env, logger: logger)
        } catch {
            logger.warning(
                "context-cache statistics and cache owners kept in memory only: cannot open their databases",
                metadata: ["error": "\(error)"])
            prefixes = nil
        }
        return Stores(
            signatures: signatures, cache: cache, ledger: ledger, conversations: conversations, seal: seal,
            contextPrefixes: prefixes,
            close: {
                prefixes?.close()
                cache?.close()
                env.close()
                retention.cancel()
                ledger.close()
                lock.release()
            })
    }
}
