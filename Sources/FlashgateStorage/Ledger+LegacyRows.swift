import FlashgateCore

/// Rows in the version-3 encoding (fixed-width integers, 8-byte string lengths), written the way
/// Flashgate wrote them before rows were compact: so tests prove that ledgers written then still
/// read, and the soak can measure bytes per row before and after.
extension Ledger {
    /// Appends `rows` as version-3 values, with their exactly-once markers, in one transaction.
    /// Budget totals are not touched: these rows stand for history, not for new spend.
    package func appendLegacyRows(_ rows: [SettlementRecord]) throws {
        try env.write { txn in
            for row in rows {
                let rowID = row.reservationID ?? writer.ids.take()
                let key = LedgerCodec.requestKey(timeMs: row.timeMs, rowID: rowID)
                if let id = row.reservationID { try txn.put(dbs.settled, key: LedgerCodec.key(id), value: key) }
                try txn.put(dbs.requests, key: key, value: LedgerCodec.encode(row))
            }
        }
    }

    /// Appends `rows` in today's compact encoding the same way (the soak's fast path: the writer's
    /// group commit without a continuation per row).
    package func appendRows(_ rows: [SettlementRecord]) throws {
        try env.write { txn in
            for row in rows {
                let rowID = row.reservationID ?? writer.ids.take()
                let key = LedgerCodec.requestKey(timeMs: row.timeMs, rowID: rowID)
                if let id = row.reservationID { try txn.put(dbs.settled, key: LedgerCodec.key(id), value: key) }
                try txn.put(dbs.requests, key: key, value: LedgerCodec.encodeCompact(row))
            }
        }
    }
}

extension Ledger {
    /// The encoded size of `row`'s value in the version-3 and the compact encoding (measurement).
    package static func legacyValueSize(_ row: SettlementRecord) -> Int { LedgerCodec.encode(row).count }
    package static func compactValueSize(_ row: SettlementRecord) -> Int { LedgerCodec.encodeCompact(row).count }
}
