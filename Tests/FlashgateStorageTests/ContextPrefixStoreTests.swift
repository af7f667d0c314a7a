import FlashgateCore
import Foundation
import Logging
import Testing

@testable import FlashgateStorage

/// Context-cache prefix statistics in real LMDB: queued without waiting, committed in batches,
/// the latest value winning, and still there after the environment is reopened.
@Suite struct ContextPrefixStoreTests {
    let tmp = TemporaryDirectory("context-prefixes")

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
