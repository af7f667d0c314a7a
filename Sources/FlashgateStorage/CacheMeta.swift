/// The cache's running totals in `cache_meta`: stored bytes (so eviction needs no scan) and the
/// lookup counters. Every writer reads, adjusts and writes them inside its own transaction, so a
/// second process purging the same file keeps them right.
struct CacheMeta: Equatable {
    var bytes: Int64 = 0
    var hits: Int64 = 0
    var misses: Int64 = 0
    var savedMicroUSD: Int64 = 0

    private static let bytesKey = Array("bytes".utf8)
    private static let hitsKey = Array("hits".utf8)
    private static let missesKey = Array("misses".utf8)
    private static let savedKey = Array("saved_micro_usd".utf8)

    static func read(_ txn: borrowing ReadTransaction, _ db: StoreDatabase) throws -> CacheMeta {
        try decode { try txn.get(db, key: $0) }
    }

    static func read(_ txn: borrowing WriteTransaction, _ db: StoreDatabase) throws -> CacheMeta {
        try decode { try txn.get(db, key: $0) }
    }

    func write(_ txn: borrowing WriteTransaction, _ db: StoreDatabase) throws {
        for (key, value) in [(Self.bytesKey, max(0, bytes)), (Self.hitsKey, hits), (Self.missesKey, misses), (Self.savedKey, savedMicroUSD)] {
            try txn.put(db, key: key, value: withUnsafeBytes(of: value.bigEndian) { Array($0) })
        }
    }

    private static func decode(_ get: ([UInt8]) throws -> [UInt8]?) throws -> CacheMeta {
        func number(_ key: [UInt8]) throws -> Int64 {
            // A missing or malformed counter counts from zero: the cache is rebuildable.
            guard let raw = try get(key), raw.count == 8 else { return 0 }
            return raw.reduce(Int64.zero) { $0 << 8 | Int64($1) }
        }
        return CacheMeta(
            bytes: try number(bytesKey), hits: try number(hitsKey), misses: try number(missesKey),
            savedMicroUSD: try number(savedKey))
    }
}

/// Lookup counters counted in memory and not yet persisted.
struct CounterDeltas: Equatable {
    var hits = 0
    var misses = 0
    var savedMicroUSD: Int64 = 0

    var isZero: Bool { self == CounterDeltas() }
}

extension CacheMeta {
    mutating func add(_ deltas: CounterDeltas) {
        hits += Int64(deltas.hits)
        misses += Int64(deltas.misses)
        savedMicroUSD += deltas.savedMicroUSD
    }
}
