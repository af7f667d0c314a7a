import FlashgateCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import FlashgateStorage

/// Context-cache prefix statistics in real LMDB: queued without waiting, committed in batches,
/// the latest value winning, and still there after the environment is reopened.
@Suite struct ContextPrefixStoreTests {
    let tmp = TemporaryDirectory("context-prefixes")

    /// Caches' owners outlive the environment; an owner whose cache expired by the time another
    /// is recorded goes, so the table holds live caches only.
    @Test func ownersAreKeptUntilTheirCacheExpires() throws {
        do {
            let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
            defer { env.close() }
            let store = try LMDBContextPrefixStore(env: env, logger: Logger(label: "test"))
            store.recordOwner(
                ContextCacheOwner(name: "cachedContents/a", team: "search", automatic: false, expiresMs: 2_000), nowMs: 1_000)
            store.recordOwner(
                ContextCacheOwner(name: "cachedContents/b", team: "other", automatic: true, expiresMs: 9_000), nowMs: 1_500)
        }
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBContextPrefixStore(env: env, logger: Logger(label: "test"))
        #expect(
            store.owner(ofCache: "cachedContents/a")
                == ContextCacheOwner(name: "cachedContents/a", team: "search", automatic: false, expiresMs: 2_000))
        #expect(store.owner(ofCache: "cachedContents/b")?.automatic == true)
        #expect(store.owner(ofCache: "cachedContents/none") == nil)
        store.recordOwner(
            ContextCacheOwner(name: "cachedContents/c", team: "search", automatic: false, expiresMs: 9_000), nowMs: 3_000)
        #expect(store.owner(ofCache: "cachedContents/a") == nil, "expired at 2,000")
        #expect(store.owner(ofCache: "cachedContents/b")?.team == "other")
    }

    /// While a drain writes a batch, another thread's lookup of a key in it sees the value: it
    /// has left the queue but is not on disk until the commit. Before, such a lookup found
    /// neither and answered nil (the lookup above failed so once under load).
    @Test func aValueBeingWrittenIsSeenByLookupsMeanwhile() throws {
        let a = CacheKey(digest: Array(repeating: 4, count: 32))
        let value = ContextPrefixStats(reads: 3, tokens: 8_192, implicitPermille: 100, lastSeenMs: 5_000)
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let writing = DispatchSemaphore(value: 0)
        let looked = DispatchSemaphore(value: 0)
        let store = try LMDBContextPrefixStore(
            env: env, logger: Logger(label: "test"),
            beforeCommit: {
                writing.signal()
                looked.wait()
            })
        final class Seen: Sendable { let value = Mutex<ContextPrefixStats??>(nil) }
        let seen = Seen()
        let reader = Thread {
            writing.wait()
            let found = store.stats(a)
            seen.value.withLock { $0 = .some(found) }
            looked.signal()
        }
        reader.start()
        store.record(a, value)
        store.flush()
        #expect(seen.value.withLock { $0 } == .some(value))
        #expect(store.stats(a) == value)
        store.close()
    }

    @Test func statisticsSurviveAReopenAndTheLatestWins() throws {
        let a = CacheKey(digest: Array(repeating: 1, count: 32))
        let b = CacheKey(digest: Array(repeating: 2, count: 32))
        do {
            let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
            let store = try LMDBContextPrefixStore(env: env, logger: Logger(label: "test"))
            store.record(a, ContextPrefixStats(reads: 1, tokens: 10_000, implicitPermille: 0, lastSeenMs: 1_000))
            store.record(a, ContextPrefixStats(reads: 2, tokens: 10_050, implicitPermille: 250, lastSeenMs: 2_000))
            store.record(b, ContextPrefixStats(reads: 7, tokens: 4_096, implicitPermille: 1_000, lastSeenMs: 3_000))
            // Queued values are visible before the drain.
            #expect(store.stats(a)?.reads == 2)
            store.close()
            env.close()
        }
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBContextPrefixStore(env: env, logger: Logger(label: "test"))
        #expect(
            store.stats(a) == ContextPrefixStats(reads: 2, tokens: 10_050, implicitPermille: 250, lastSeenMs: 2_000))
        #expect(
            store.stats(b) == ContextPrefixStats(reads: 7, tokens: 4_096, implicitPermille: 1_000, lastSeenMs: 3_000))
        #expect(store.stats(CacheKey(digest: Array(repeating: 3, count: 32))) == nil)
        #expect(LMDBContextPrefixStore.decode([9, 9]) == nil)
    }
}
