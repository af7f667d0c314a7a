import FlashgateCore

/// One hourly rollup: every request of one team, key, model, route, service tier, cache status
/// and outcome in the UTC hour starting at `hourMs`, summed. Rollups are where request rows go
/// when they are older than `ledger.retention.rows`, and where $0 events (cache hits, joined
/// followers) are counted from the start instead of getting a row each.
///
/// Invariant: a rollup holds exactly the sums of the rows (or events) folded into it, so every
/// report reading rows and rollups together gives the same totals as the rows alone did, at the
/// granularity of an hour. Budget running totals are kept elsewhere (`totals`) and never change
/// when rows are folded.
package struct LedgerRollup: Sendable, Equatable {
    package struct Key: Hashable, Sendable {
        package var hourMs: Int64
        package var team: String
        package var key: String
        package var model: String
        package var route: String
        package var tier: String
        package var cacheStatus: String
        package var outcome: String

        package init(
            hourMs: Int64, team: String, key: String, model: String, route: String, tier: String, cacheStatus: String,
            outcome: String
        ) {
            self.hourMs = hourMs
            self.team = team
            self.key = key
            self.model = model
            self.route = route
            self.tier = tier
            self.cacheStatus = cacheStatus
            self.outcome = outcome
        }

        /// The rollup a request row (or a $0 event) belongs to.
        package init(_ row: SettlementRecord) {
            self.init(
                hourMs: LedgerRollup.hour(of: row.timeMs), team: row.team, key: row.key, model: row.model,
                route: row.route, tier: row.serviceTier, cacheStatus: row.cacheStatus, outcome: row.outcome)
        }
    }

    /// The sums. Adding is associative, so increments commute.
    package struct Counts: Sendable, Equatable {
        package var requests: Int64 = 0
        package var promptTokens: Int64 = 0
        package var cachedTokens: Int64 = 0
        package var outputTokens: Int64 = 0
        package var thoughtsTokens: Int64 = 0
        package var searchQueries: Int64 = 0
        package var cost: MicroUSD = .zero
        /// Requests that made more than one upstream attempt.
        package var retried: Int64 = 0

        package init() {}

        package init(_ row: SettlementRecord) {
            requests = Int64(row.requests)
            promptTokens = Int64(row.promptTokens)
            cachedTokens = Int64(row.cachedTokens)
            outputTokens = Int64(row.outputTokens)
            thoughtsTokens = Int64(row.thoughtsTokens)
            searchQueries = Int64(row.searchQueries)
            cost = row.cost
            retried = Int64(row.retried)
        }

        package static func += (lhs: inout Counts, rhs: Counts) {
            lhs.requests &+= rhs.requests
            lhs.promptTokens &+= rhs.promptTokens
            lhs.cachedTokens &+= rhs.cachedTokens
            lhs.outputTokens &+= rhs.outputTokens
            lhs.thoughtsTokens &+= rhs.thoughtsTokens
            lhs.searchQueries &+= rhs.searchQueries
            lhs.cost += rhs.cost
            lhs.retried &+= rhs.retried
        }
    }

    package var key: Key
    package var counts: Counts

    package init(key: Key, counts: Counts) {
        self.key = key
        self.counts = counts
    }

    static let hourMs: Int64 = 3_600_000

    /// The start of the UTC hour containing `timeMs` (`Int64.min` for a time in the hour below
    /// the first one Int64 can hold: a caller's bound, never a trap).
    package static func hour(of timeMs: Int64) -> Int64 {
        let (start, overflow) = timeMs.subtractingReportingOverflow(((timeMs % hourMs) + hourMs) % hourMs)
        return overflow ? .min : start
    }

    /// This rollup as one record standing for `counts.requests` requests at the start of its hour,
    /// so reports that walk rows can walk rollups too (no budget keys, no attempts: it is a sum).
    package var record: SettlementRecord {
        var r = SettlementRecord(
            reservationID: nil, timeMs: key.hourMs, team: key.team, key: key.key, model: key.model, route: key.route,
            promptTokens: Int(counts.promptTokens), cachedTokens: Int(counts.cachedTokens),
            outputTokens: Int(counts.outputTokens), thoughtsTokens: Int(counts.thoughtsTokens),
            searchQueries: Int(counts.searchQueries), cost: counts.cost, cacheStatus: key.cacheStatus,
            outcome: key.outcome, budgetKeys: [])
        r.serviceTier = key.tier
        r.requests = Int(counts.requests)
        r.retriedRequests = Int(counts.retried)
        return r
    }
}

extension LedgerCodec {
    /// The longest each text field of a rollup key may be, in bytes (team, key, model, route, tier,
    /// cache status, outcome): every name the config allows fits whole (ids and key names 64,
    /// model ids 128 and a `models/` or `tunedModels/` prefix, route names 128), and the key stays
    /// within LMDB's 511 bytes (8 + 488 + 7 zero bytes). One limit of 60 for all had cut longer
    /// team, key and model names, so retention moved their usage to a name that did not exist and
    /// merged teams that differed past the 60th byte.
    static let rollupFieldLimits = [64, 64, 160, 128, 24, 24, 24]

    /// `rollups` keys: the hour (big-endian, sign bit flipped), then team, key, model, route, tier,
    /// cache status and outcome, each UTF-8 (at most its `rollupFieldLimits` bytes) ended by a
    /// zero byte.
    static func rollupKey(_ k: LedgerRollup.Key) -> [UInt8] {
        var out = key(UInt64(bitPattern: k.hourMs) ^ (1 << 63))
        let fields = [k.team, k.key, k.model, k.route, k.tier, k.cacheStatus, k.outcome]
        for (field, limit) in zip(fields, rollupFieldLimits) {
            out += field.utf8.prefix(limit).filter { $0 != 0 }
            out.append(0)
        }
        return out
    }

    /// The hour a `rollups` key starts with, without decoding the rest.
    static func rollupHour(_ key: UnsafeRawBufferPointer) throws(LedgerError) -> Int64 {
        guard key.count >= 15 else { throw Reader.corrupt("short rollup key") }
        var reader = Reader(key)
        return Int64(bitPattern: try reader.uint64() ^ (1 << 63))
    }

    static func decodeRollupKey(_ key: UnsafeRawBufferPointer) throws(LedgerError) -> LedgerRollup.Key {
        let hourMs = try rollupHour(key)
        let fields = key[8...].split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count == 8, fields[7].isEmpty else { throw Reader.corrupt("rollup key fields") }
        let text = fields.map { String(decoding: $0, as: UTF8.self) }
        return LedgerRollup.Key(
            hourMs: hourMs, team: text[0], key: text[1], model: text[2], route: text[3], tier: text[4],
            cacheStatus: text[5], outcome: text[6])
    }

    /// Rollup values: a version byte, then the counts as varints (cost zig-zag).
    static func encode(_ c: LedgerRollup.Counts) -> [UInt8] {
        var w = Writer()
        w.byte(1)
        for n in [c.requests, c.promptTokens, c.cachedTokens, c.outputTokens, c.thoughtsTokens, c.searchQueries] {
            w.varint(UInt64(bitPattern: n))
        }
        w.signedVarint(c.cost.value)
        w.varint(UInt64(bitPattern: c.retried))
        return w.bytes
    }

    static func decodeRollupCounts(_ bytes: UnsafeRawBufferPointer) throws(LedgerError) -> LedgerRollup.Counts {
        var r = Reader(bytes)
        guard try r.byte() == 1 else { throw Reader.corrupt("unknown rollup version") }
        var c = LedgerRollup.Counts()
        c.requests = Int64(bitPattern: try r.varint())
        c.promptTokens = Int64(bitPattern: try r.varint())
        c.cachedTokens = Int64(bitPattern: try r.varint())
        c.outputTokens = Int64(bitPattern: try r.varint())
        c.thoughtsTokens = Int64(bitPattern: try r.varint())
        c.searchQueries = Int64(bitPattern: try r.varint())
        c.cost = MicroUSD(try r.signedVarint())
        c.retried = Int64(bitPattern: try r.varint())
        return c
    }
}
