import Foundation
import Logging
import Synchronization
import Testing

@testable import FlashgateStorage

/// A settable unix-millisecond clock for TTLs without sleeping.
final class ManualClock: Sendable {
    private let ms: Atomic<Int64>
    init(_ start: Int64 = 1_700_000_000_000) { ms = Atomic(start) }
    var now: Int64 { ms.load(ordering: .relaxed) }
    func set(_ value: Int64) { ms.store(value, ordering: .relaxed) }
    func advance(_ by: Int64) { ms.add(by, ordering: .relaxed) }
    var source: @Sendable () -> Int64 { { self.now } }
}

/// Fixtures for the response cache: 32-byte keys like the digests callers use, and bodies that
/// compress (`text`) or do not (`noise`).
enum CacheFixture {
    static func key(_ i: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xA5, count: 24)
        withUnsafeBytes(of: UInt64(bitPattern: Int64(i)).bigEndian) { out += $0 }
        return out
    }

    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func entry(
        body: [UInt8] = Array(#"{"candidates":[{"content":{"parts":[{"text":"hello"}]}}]}"#.utf8), team: String = "t1",
        model: String = "gemini-2.5-flash", createdAtMs: Int64, ttlMs: Int64 = 60_000, cost: Int64 = 1234
    ) -> CacheEntry {
        CacheEntry(
            body: body, team: team, model: model, createdAtMs: createdAtMs, expiresAtMs: createdAtMs + ttlMs,
            costMicroUSD: cost, usage: ["prompt": 10, "output": 5, "thoughts": 2, "cached": 0])
    }

    static let logger = Logger(label: "test.response-cache")
}

@Suite struct ResponseCacheStoreTests {
    let tmp = TemporaryDirectory("cache")
    let clock = ManualClock()

    func open(maxBytes: Int = 64 << 20) throws -> ResponseCacheStore {
        try #require(
            ResponseCacheStore.open(directory: tmp.path, maxBytes: maxBytes, mapSizeBytes: 64 << 20, now: clock.source,
                logger: CacheFixture.logger))
    }

    @Test func roundTripKeepsBodyAndMetadataExact() throws {
        let cache = try open()
        defer { cache.close() }
        let entry = CacheFixture.entry(body: CacheFixture.noise(5000, seed: 1) + Array("tail".utf8), createdAtMs: clock.now)
        let empty = CacheFixture.entry(body: [], team: "", model: "m", createdAtMs: clock.now)
        cache.store(CacheFixture.key(1), entry)
        cache.store(CacheFixture.key(2), empty)
        cache.flush()
        #expect(cache.lookup(CacheFixture.key(1)) == entry)
        #expect(cache.lookup(CacheFixture.key(2)) == empty)
        #expect(cache.lookup(CacheFixture.key(3)) == nil)
        #expect(cache.lookup([]) == nil)
        let stats = cache.stats()
        #expect(stats.entries == 2)
        #expect(stats.bytes == CacheRecord.encode(entry)!.count + CacheRecord.encode(empty)!.count)
    }

    @Test func expiryOnTheManualClock() throws {
        let cache = try open()
        defer { cache.close() }
        cache.store(CacheFixture.key(1), CacheFixture.entry(createdAtMs: clock.now, ttlMs: 1000))
        cache.store(CacheFixture.key(2), CacheFixture.entry(createdAtMs: clock.now, ttlMs: 5000))
        cache.flush()
        clock.advance(999)
        #expect(cache.lookup(CacheFixture.key(1)) != nil)
        clock.advance(1)
        #expect(cache.lookup(CacheFixture.key(1)) == nil)
        cache.flush()  // the lookup queued the expired entry's deletion
        #expect(cache.stats().entries == 1)

        clock.advance(4000)
        #expect(cache.sweep() == (expired: 1, evicted: 0))
        #expect(cache.stats().entries == 0)
        #expect(cache.stats().bytes == 0)
        #expect(cache.sweep() == (expired: 0, evicted: 0))
    }

    @Test func storingBeyondMaxBytesEvictsTheOldest() throws {
        let probe = CacheRecord.encode(CacheFixture.entry(body: CacheFixture.noise(1000, seed: 0), createdAtMs: 0))!.count
        let maxBytes = probe * 4 + probe / 2
        let cache = try open(maxBytes: maxBytes)
        defer { cache.close() }
        for i in 0..<10 {
            cache.store(
                CacheFixture.key(i),
                CacheFixture.entry(body: CacheFixture.noise(1000, seed: UInt64(i)), createdAtMs: clock.now + Int64(i)))
            if i % 3 == 0 { cache.flush() }
        }
        cache.flush()
        let stats = cache.stats()
        #expect(stats.bytes <= maxBytes)
        #expect(stats.entries == 4)
        for i in 0..<6 { #expect(cache.lookup(CacheFixture.key(i)) == nil) }
        for i in 6..<10 { #expect(cache.lookup(CacheFixture.key(i)) != nil) }
        #expect(cache.sweep() == (expired: 0, evicted: 0))
    }

    @Test func sweepEvictsDownToASmallerLimit() throws {
        do {
            let cache = try open()
            for i in 0..<10 {
                cache.store(
                    CacheFixture.key(i),
                    CacheFixture.entry(body: CacheFixture.noise(1000, seed: UInt64(i)), createdAtMs: clock.now + Int64(i)))
            }
            cache.close()
        }
        let limit = 3500
        let cache = try open(maxBytes: limit)
        defer { cache.close() }
        let result = cache.sweep()
        #expect(result.expired == 0)
        #expect(result.evicted == 7)
        #expect(cache.stats().bytes <= limit)
        #expect(cache.lookup(CacheFixture.key(9)) != nil)
        #expect(cache.lookup(CacheFixture.key(6)) == nil)
    }

    @Test func replacingAKeyKeepsTotalsAndIndexesRight() throws {
        let cache = try open()
        defer { cache.close() }
        let first = CacheFixture.entry(body: CacheFixture.noise(4000, seed: 1), createdAtMs: clock.now, ttlMs: 1000)
        let second = CacheFixture.entry(body: Array("short".utf8), createdAtMs: clock.now + 10, ttlMs: 10_000)
        cache.store(CacheFixture.key(1), first)
        cache.flush()
        cache.store(CacheFixture.key(1), second)
        cache.store(CacheFixture.key(1), second)
        cache.flush()
        let stats = cache.stats()
        #expect(stats.entries == 1)
        #expect(stats.bytes == CacheRecord.encode(second)!.count)
        #expect(try cache.env.read { try $0.count(cache.byTime) } == 1)
        #expect(try cache.env.read { try $0.count(cache.byExpiry) } == 1)
        // The first entry's expiry no longer applies.
        clock.advance(2000)
        #expect(cache.sweep() == (expired: 0, evicted: 0))
        #expect(cache.lookup(CacheFixture.key(1)) == second)
    }

    @Test func purgeByTeamModelAgeAndCombined() throws {
        let cache = try open()
        defer { cache.close() }
        // 12 entries: teams a/b, models x/y, created 0, 1 or 2 hours before now.
        var i = 0
        for team in ["a", "b"] {
            for model in ["x", "y"] {
                for hoursAgo in [0, 1, 2] {
                    let created = clock.now - Int64(hoursAgo) * 3_600_000
                    cache.store(
                        CacheFixture.key(i), CacheFixture.entry(team: team, model: model, createdAtMs: created, ttlMs: 86_400_000))
                    i += 1
                }
            }
        }
        cache.flush()
        #expect(try cache.purge(team: "a", model: "x", olderThanMs: 90 * 60_000) == 1)  // a/x, 2h
        #expect(try cache.purge(team: "a", model: nil, olderThanMs: nil) == 5)
        #expect(try cache.purge(team: nil, model: "y", olderThanMs: nil) == 3)  // b/y
        #expect(try cache.purge(team: "nobody", model: nil, olderThanMs: nil) == 0)
        #expect(try cache.purge(team: nil, model: nil, olderThanMs: 30 * 60_000) == 2)  // b/x, 1h and 2h
        #expect(cache.stats().entries == 1)
        #expect(try cache.purge(team: nil, model: nil, olderThanMs: nil) == 1)
        let stats = cache.stats()
        #expect(stats.entries == 0)
        #expect(stats.bytes == 0)
        #expect(try cache.env.read { try $0.count(cache.byTime) + $0.count(cache.byExpiry) } == 0)
    }

    @Test func countersAndHitRatioSurviveReopen() throws {
        do {
            let cache = try open()
            cache.recordHit(savedMicroUSD: 100)
            cache.recordHit(savedMicroUSD: 250)
            cache.recordHit(savedMicroUSD: 0)
            cache.recordMiss()
            let stats = cache.stats()
            #expect(stats.hits == 3)
            #expect(stats.misses == 1)
            #expect(stats.savedMicroUSD == 350)
            #expect(stats.hitRatio == 0.75)
            cache.close()
        }
        let cache = try open()
        defer { cache.close() }
        cache.recordMiss()
        cache.flush()
        let stats = cache.stats()
        #expect(stats == CacheStats(entries: 0, bytes: 0, hits: 3, misses: 2, savedMicroUSD: 350))
        #expect(stats.hitRatio == 0.6)
        #expect(CacheStats(entries: 0, bytes: 0, hits: 0, misses: 0, savedMicroUSD: 0).hitRatio == 0)
    }

    @Test func entriesSurviveRestart() throws {
        let entry = CacheFixture.entry(createdAtMs: clock.now)
        do {
            let cache = try open()
            cache.store(CacheFixture.key(7), entry)
            cache.close()  // close flushes
        }
        let cache = try open()
        defer { cache.close() }
        #expect(cache.lookup(CacheFixture.key(7)) == entry)
        #expect(cache.stats().entries == 1)
    }

    @Test(arguments: ["garbage header", "flipped body byte", "flipped byte of a compressed body", "cut raw body"])
    func damagedValueIsAMissAndIsRemoved(damage: String) throws {
        let cache = try open()
        defer { cache.close() }
        // A small body is stored raw (CRC-checked), a large one compressed (zlib-checked).
        let size = damage == "flipped byte of a compressed body" ? CacheRecord.rawBodyLimit + 5000 : 2000
        let entry = CacheFixture.entry(body: CacheFixture.noise(size, seed: 3), createdAtMs: clock.now)
        cache.store(CacheFixture.key(1), entry)
        cache.store(CacheFixture.key(2), entry)
        cache.flush()
        try cache.env.write { txn in
            var value = try #require(try txn.get(cache.entries, key: CacheFixture.key(1)))
            if damage == "garbage header" {
                value = Array("not a cache record at all".utf8)
            } else if damage == "cut raw body" {
                value.removeLast()
            } else {
                value[value.count - 100] ^= 0xFF
            }
            try txn.put(cache.entries, key: CacheFixture.key(1), value: value)
        }
        #expect(cache.lookup(CacheFixture.key(1)) == nil)
        cache.flush()
        #expect(try cache.env.read { try $0.get(cache.entries, key: CacheFixture.key(1)) } == nil)
        #expect(cache.lookup(CacheFixture.key(2)) == entry)
        #expect(cache.stats().entries == 1)
        if damage.hasPrefix("flipped") {
            #expect(cache.stats().bytes == CacheRecord.encode(entry)!.count)
        }
        // Stale index rows left by the garbage header do not disturb a sweep or eviction.
        clock.advance(120_000)
        #expect(cache.sweep().expired == 1)
        #expect(cache.stats().entries == 0)
    }

    @Test func smallBodiesAreStoredRawAndLargeOnesCompressed() throws {
        for size in [0, 1, CacheRecord.rawBodyLimit, CacheRecord.rawBodyLimit + 1, 100_000] {
            let entry = CacheFixture.entry(body: CacheFixture.noise(size, seed: 5), createdAtMs: clock.now)
            let value = try #require(CacheRecord.encode(entry))
            #expect(value[2] == (size <= CacheRecord.rawBodyLimit ? 2 : 1), "size \(size)")
            let decoded = try value.withUnsafeBytes { bytes in
                try CacheRecord.entry(try #require(CacheRecord.header(bytes)), in: bytes)
            }
            #expect(decoded == entry, "size \(size)")
        }
    }

    @Test func unopenableStoreDisablesTheCache() throws {
        try FileManager.default.createDirectory(atPath: tmp.path, withIntermediateDirectories: true)
        let garbage = Data(CacheFixture.noise(64 << 10, seed: 9))
        try garbage.write(to: URL(fileURLWithPath: tmp.path + "/data.mdb"))
        #expect(
            ResponseCacheStore.open(directory: tmp.path, maxBytes: 1 << 20, now: clock.source, logger: CacheFixture.logger)
                == nil)
        let file = tmp.path + "/data.mdb"
        #expect(ResponseCacheStore.open(directory: file, maxBytes: 1 << 20, now: clock.source, logger: CacheFixture.logger) == nil)
    }

    @Test func storesFromManyThreads() throws {
        let cache = try open()
        defer { cache.close() }
        let now = clock.now
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<250 {
                let n = thread * 1000 + i
                cache.store(CacheFixture.key(n), CacheFixture.entry(body: Array("answer \(n)".utf8), createdAtMs: now))
                _ = cache.lookup(CacheFixture.key(n - 1))
                if i % 50 == 0 { cache.recordMiss() }
            }
        }
        cache.flush()
        let stats = cache.stats()
        #expect(stats.entries == 2000)
        #expect(stats.misses == 40)
        for thread in 0..<8 {
            for i in stride(from: 0, to: 250, by: 17) {
                let n = thread * 1000 + i
                #expect(cache.lookup(CacheFixture.key(n))?.body == Array("answer \(n)".utf8))
            }
        }
    }

    @Test func budgetIsCappedToFitTheMap() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 1 << 20, durable: false)
        defer { env.close() }
        let cache = try ResponseCacheStore(env: env, maxBytes: 1 << 30, now: clock.source, logger: CacheFixture.logger)
        defer { cache.close() }
        #expect(cache.maxBytes == (1 << 20) / 3)
        for i in 0..<1000 {
            cache.store(
                CacheFixture.key(i),
                CacheFixture.entry(body: CacheFixture.noise(2000, seed: UInt64(i)), createdAtMs: clock.now + Int64(i)))
            if i % 20 == 19 { cache.flush() }
        }
        cache.flush()
        let stats = cache.stats()
        #expect(stats.entries > 100)
        #expect(stats.bytes <= cache.maxBytes)
        #expect(cache.lookup(CacheFixture.key(999)) != nil)
        #expect(cache.lookup(CacheFixture.key(0)) == nil)
    }

    @Test func aMapFilledByOthersDropsWritesWithoutFailing() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 1 << 20, durable: false)
        defer { env.close() }
        let cache = try ResponseCacheStore(env: env, maxBytes: 1 << 30, now: clock.source, logger: CacheFixture.logger)
        defer { cache.close() }
        cache.store(CacheFixture.key(0), CacheFixture.entry(createdAtMs: clock.now))
        cache.flush()
        // Another tenant of the environment (thought signatures) takes every page.
        let other = try env.database("other")
        var filled = 0
        while filled < 1000 {
            do {
                try env.write { txn in try txn.put(other, key: CacheFixture.key(filled), value: CacheFixture.noise(3000, seed: 1)) }
                filled += 1
            } catch let error as StoreError where error.isMapFull {
                break
            }
        }
        #expect(filled < 1000)
        for i in 1..<20 {
            cache.store(CacheFixture.key(i), CacheFixture.entry(body: CacheFixture.noise(3000, seed: 2), createdAtMs: clock.now + Int64(i)))
        }
        cache.flush()
        _ = cache.lookup(CacheFixture.key(19))
        #expect(cache.stats().bytes <= cache.maxBytes)
        // Once the other tenant shrinks, the cache takes writes again.
        try env.write { txn in
            for i in 0..<filled { try txn.delete(other, key: CacheFixture.key(i)) }
        }
        cache.store(CacheFixture.key(50), CacheFixture.entry(createdAtMs: clock.now + 50))
        cache.flush()
        #expect(cache.lookup(CacheFixture.key(50)) != nil)
    }

    @Test func closedStoreMissesAndDropsWrites() throws {
        let cache = try open()
        cache.store(CacheFixture.key(1), CacheFixture.entry(createdAtMs: clock.now))
        cache.startSweeping(every: .milliseconds(5))
        cache.close()
        cache.close()
        cache.store(CacheFixture.key(2), CacheFixture.entry(createdAtMs: clock.now))
        #expect(cache.lookup(CacheFixture.key(1)) == nil)
        let reopened = try open()
        defer { reopened.close() }
        #expect(reopened.lookup(CacheFixture.key(1)) != nil)
        #expect(reopened.lookup(CacheFixture.key(2)) == nil)
    }
}
