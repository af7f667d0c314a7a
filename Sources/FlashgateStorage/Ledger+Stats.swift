import FlashgateCore

/// What `flashgate ledger stats` prints: how big the ledger is and what it holds.
package struct LedgerStats: Sendable, Equatable {
    /// The map size: the most the ledger may hold (`ledger.max_size`).
    package var mapSizeBytes: Int
    /// The data file's high-water mark: pages ever used, including free pages LMDB will reuse.
    package var fileBytes: Int
    /// Pages the databases use right now, in bytes: what a compaction would leave.
    package var dataBytes: Int
    package var pageSize: Int
    package var rows: Int
    package var rollups: Int
    package var refusalCounters: Int
    package var openReservations: Int
    /// Budget leases on disk: granted to a lease group and not yet settled or handed back. While
    /// a server runs they are its working blocks; with none running, what a crash left open (the
    /// next start charges it as spent).
    package var openLeases = 0
    package var leasedAmount = MicroUSD.zero
    /// Exactly-once markers of settled reservations (one per row that has one).
    package var settledMarkers: Int
    package var oldestRowMs: Int64?
    package var newestRowMs: Int64?
    package var oldestRollupHourMs: Int64?
    /// Bytes (pages) used by the request rows alone, key and value with LMDB's overhead.
    package var rowBytes: Int
}

extension Ledger {
    static let databaseNames = ["reservations", "settled", "requests", "totals", "meta", "refusals", "rollups", "leases"]

    /// Sizes and counts from one snapshot, plus the file's page accounting.
    package func stats() throws -> LedgerStats {
        let store = try env.stats
        let (pages, pageSize) = try env.pagesByDatabase(Self.databaseNames)
        var stats = try env.read { txn in
            LedgerStats(
                mapSizeBytes: store.mapSizeBytes, fileBytes: store.usedBytes,
                dataBytes: pages.values.reduce(0, +) * pageSize, pageSize: pageSize, rows: try txn.count(dbs.requests),
                rollups: try txn.count(dbs.rollups), refusalCounters: try txn.count(dbs.refusals),
                openReservations: try txn.count(dbs.reservations), settledMarkers: try txn.count(dbs.settled),
                rowBytes: (pages["requests"] ?? 0) * pageSize)
        }
        let leases = try openLeases()
        stats.openLeases = leases.count
        stats.leasedAmount = leases.reduce(.zero) { $0 + $1.amount }
        stats.oldestRowMs = try firstTime(dbs.requests)
        stats.oldestRollupHourMs = try firstTime(dbs.rollups)
        stats.newestRowMs = try env.read { txn in try txn.core.lastKey(dbs.requests) }.map { key in
            try key.withUnsafeBytes { try Self.leadingTime($0) }
        }
        return stats
    }

    /// Rows and rollups held now, from LMDB's own counts (no scan): cheap enough for a scrape.
    package func rowCounts() throws -> (rows: Int, rollups: Int) {
        try env.read { txn in (try txn.count(dbs.requests), try txn.count(dbs.rollups)) }
    }

    /// The time the first key of `db` starts with, or nil when it is empty.
    private func firstTime(_ db: StoreDatabase) throws -> Int64? {
        var found: Int64?
        do {
            try env.read { txn in
                try txn.forEach(db) { key, _ in
                    found = try Self.leadingTime(key)
                    throw StopVisit()
                }
            }
        } catch is StopVisit {}
        return found
    }

    /// The time (or hour) a `requests`, `rollups` or `refusals` key starts with.
    static func leadingTime(_ key: UnsafeRawBufferPointer) throws -> Int64 {
        var reader = LedgerCodec.Reader(key)
        return Int64(bitPattern: try reader.uint64() ^ (1 << 63))
    }
}

struct StopVisit: Error {}
