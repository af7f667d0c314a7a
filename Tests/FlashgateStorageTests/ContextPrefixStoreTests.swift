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

    /// A client cache's owner keeps where the cache lives (version 2); automatic ones and
    /// version-1 records read as before. Only a team's own live client caches are listed.
    @Test func aClientCachesPlacementIsKeptAndListedByTeam() throws {
        let placement = ContextCacheOwner.Placement(
            route: "studio", keyIndex: 2, clientModel: "gemini-3.5-flash", pricedModel: "gemini-3.5-flash",
            tokens: 40_000, callerKey: "search-key")
        let mine = ContextCacheOwner(
            name: "cachedContents/a", team: "search", automatic: false, expiresMs: 9_000, placement: placement)
        do {
            let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
            defer { env.close() }
            let store = try LMDBContextPrefixStore(env: env, logger: Logger(label: "test"))
            store.recordOwner(mine, nowMs: 1_000)
            store.recordOwner(
                ContextCacheOwner(name: "cachedContents/b", team: "search", automatic: true, expiresMs: 9_000),
                nowMs: 1_000)
            store.recordOwner(
                ContextCacheOwner(
                    name: "cachedContents/c", team: "other", automatic: false, expiresMs: 9_000, placement: placement),
                nowMs: 1_000)
            store.recordOwner(
                ContextCacheOwner(
                    name: "cachedContents/d", team: "search", automatic: false, expiresMs: 3_000, placement: placement),
                nowMs: 1_000)
        }
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBContextPrefixStore(env: env, logger: Logger(label: "test"))
        #expect(store.owner(ofCache: "cachedContents/a") == mine)
        #expect(store.clientOwners(team: "search", nowMs: 2_000).map(\.name) == ["cachedContents/a", "cachedContents/d"])
        #expect(store.clientOwners(team: "search", nowMs: 3_000) == [mine])
        #expect(store.clientOwners(team: "other", nowMs: 3_000).map(\.name) == ["cachedContents/c"])
        // A version-1 record (no placement) still reads.
        let v1 = LMDBContextPrefixStore.encodeOwner(
            ContextCacheOwner(name: "x", team: "search", automatic: false, expiresMs: 5))
        #expect(v1.first == 1)
        #expect(LMDBContextPrefixStore.decodeOwner(name: "x", v1)?.team == "search")
        // A truncated version-2 record is no record.
        let v2 = LMDBContextPrefixStore.encodeOwner(mine)
        #expect(LMDBContextPrefixStore.decodeOwner(name: "a", Array(v2.dropLast())) == nil)
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
