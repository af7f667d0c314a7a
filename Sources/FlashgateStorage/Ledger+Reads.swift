import FlashgateCore

/// Reads: synchronous snapshots on the caller's thread; they never wait for the writer.
extension Ledger {
    /// The settled running total of `budgetKey`. A read failure is logged and reads as zero; a
    /// caller that must fail closed (strict admission) uses `readTotal`.
    package func total(_ budgetKey: String) -> MicroUSD {
        do {
            return try readTotal(budgetKey)
        } catch {
            logger.error("ledger total unreadable", metadata: ["budget_key": "\(budgetKey)", "error": "\(error)"])
            return .zero
        }
    }

    package func readTotal(_ budgetKey: String) throws -> MicroUSD {
        try env.read { txn in
            MicroUSD(try txn.withValue(dbs.totals, key: Array(budgetKey.utf8)) { try LedgerCodec.decodeInt64($0) } ?? 0)
        }
    }

    /// Every settled running total whose budget key starts with `prefix` ("" for all).
    package func totals(prefix: String) -> [String: MicroUSD] {
        let p = Array(prefix.utf8)
        do {
            return try env.read { txn in
                var out: [String: MicroUSD] = [:]
                try txn.forEach(dbs.totals) { key, value in
                    guard key.starts(with: p) else { return }
                    out[String(decoding: key, as: UTF8.self)] = MicroUSD(try LedgerCodec.decodeInt64(value))
                }
                return out
            }
        } catch {
            logger.error("ledger totals unreadable", metadata: ["prefix": "\(prefix)", "error": "\(error)"])
            return [:]
        }
    }

    /// Reservations not yet settled, by id.
    package func openReservations() throws -> [ReservationRecord] {
        try env.read { txn in
            var out: [ReservationRecord] = []
            try txn.forEach(dbs.reservations) { _, value in out.append(try LedgerCodec.decodeReservation(value)) }
            return out
        }
    }

    /// Whether reservation `id` has been settled.
    package func isSettled(_ id: UInt64) throws -> Bool {
        try env.read { txn in try txn.get(dbs.settled, key: LedgerCodec.key(id)) != nil }
    }

    /// Request rows with `fromMs <= timeMs < toMs`, oldest first.
    package func requestRows(from fromMs: Int64? = nil, to toMs: Int64? = nil) throws -> [SettlementRecord] {
        var out: [SettlementRecord] = []
        try forEachRequest(from: fromMs, to: toMs) { out.append($0) }
        return out
    }

    /// Usage aggregated by team, key, model and UTC day over rows with `fromMs <= timeMs < toMs`
    /// and the hourly rollups (cache hits, joined followers, rows past their retention) of the
    /// hours starting in that range, `fromMs` rounded down to its hour; sorted by day, team, key
    /// and model. Refusals (counted by the hour) are in rows with an empty model, left out when
    /// `model` is given.
    package func usage(from fromMs: Int64?, to toMs: Int64?, team: String?, key: String?, model: String?) throws
        -> [UsageRow]
    {
        var groups: [UsageGroup: UsageRow] = [:]
        func add(_ s: SettlementRecord) {
            if let team, s.team != team { return }
            if let key, s.key != key { return }
            if let model, s.model != model { return }
            let group = UsageGroup(team: s.team, key: s.key, model: s.model, day: Self.utcDay(s.timeMs))
            var row = groups[group] ?? UsageRow(team: s.team, key: s.key, model: s.model, day: group.day)
            row.requests += s.requests
            row.promptTokens += s.promptTokens
            row.cachedTokens += s.cachedTokens
            row.outputTokens += s.outputTokens
            row.thoughtsTokens += s.thoughtsTokens
            row.searchQueries += s.searchQueries
            row.cost += s.cost
            if s.cacheStatus == "hit" { row.cacheHits += s.requests }
            // Context caches' creation (`context_create`) and rent (`context_storage`).
            if s.cacheStatus.hasPrefix("context_") { row.contextCacheCost += s.cost }
            groups[group] = row
        }
        try forEachRequest(from: fromMs, to: toMs, add)
        try forEachRollup(from: fromMs, to: toMs) { add($0.record) }
        if model == nil {
            for refusal in try refusals(from: fromMs, to: toMs, team: team, key: key) {
                let group = UsageGroup(team: refusal.team, key: refusal.key, model: "", day: Self.utcDay(refusal.hourMs))
                var row = groups[group] ?? UsageRow(team: refusal.team, key: refusal.key, model: "", day: group.day)
                row.refused += refusal.count
                row.refusedBy[refusal.reason, default: 0] += refusal.count
                groups[group] = row
            }
        }
        return groups.values.sorted { ($0.day, $0.team, $0.key, $0.model) < ($1.day, $1.team, $1.key, $1.model) }
    }

    private struct UsageGroup: Hashable {
        var team, key, model, day: String
    }

    /// Visits rows in key (time) order, skipping those outside the window before decoding them.
    private func forEachRequest(from fromMs: Int64?, to toMs: Int64?, _ body: (SettlementRecord) throws -> Void) throws {
        try env.read { txn in
            try txn.forEach(dbs.requests) { key, value in
                guard key.count >= 8 else { throw LedgerError(.corruptRecord, "short request key") }
                var reader = LedgerCodec.Reader(key)
                let timeMs = Int64(bitPattern: try reader.uint64() ^ (1 << 63))
                if let fromMs, timeMs < fromMs { return }
                if let toMs, timeMs >= toMs { return }
                try body(try LedgerCodec.decodeRow(key: key, value: value))
            }
        }
    }

    /// "YYYY-MM-DD" in UTC for a Unix time in milliseconds (the civil-from-days algorithm).
    package static func utcDay(_ timeMs: Int64) -> String {
        var days = timeMs / 86_400_000
        if timeMs % 86_400_000 < 0 { days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ n: Int64, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }
}
