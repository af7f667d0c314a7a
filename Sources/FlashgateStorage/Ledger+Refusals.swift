import FlashgateCore

/// Refusals in the ledger: counters in the `refusals` database by UTC hour, team, key name and
/// reason, never rows. Counted without waiting (`RefusalTally`), committed by the ledger's one
/// writer in its next group commit.
extension Ledger {
    static let hourMs: Int64 = 3_600_000

    /// Counts one refusal at `timeMs`; `team` and `key` are empty when the caller was not known.
    /// Never waits: the count reaches the disk with the writer's next commit.
    package func countRefusal(timeMs: Int64, team: String, key: String, reason: RefusalReason) {
        let hour = timeMs - ((timeMs % Self.hourMs) + Self.hourMs) % Self.hourMs
        guard refusalTally.add(RefusalTally.Key(hourMs: hour, team: team, key: key, reason: reason.rawValue)) else {
            return
        }
        let logger = logger
        let write = LedgerPendingWrite(operation: .refusals, urgent: false) { result in
            if case .failure(let error) = result {
                logger.warning("refusal counts not recorded yet", metadata: ["error": "\(error)"])
            }
        }
        _ = writer.queue.submit(write)
    }

    /// Returns once every refusal and $0 event counted so far is committed: admin reads call it
    /// first, so they see the refusals and cache hits that came before them. Does nothing when
    /// there is nothing to commit.
    package func flushRefusals() async {
        await flushCounters()
        guard !refusalTally.isSettled else { return }
        _ = try? await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let write = LedgerPendingWrite(operation: .refusals) { continuation.resume(with: $0) }
            if !writer.queue.submit(write) {
                continuation.resume(throwing: LedgerError(.closed, "the ledger is closed"))
            }
        }
    }

    /// Refusal counters of the hours that start in `fromMs..<toMs` (an hour is counted whole when
    /// it starts at or after `fromMs` rounded down to the hour), filtered by team and key.
    package func refusals(
        from fromMs: Int64? = nil, to toMs: Int64? = nil, team: String? = nil, key: String? = nil
    )
        throws -> [RefusalCount]
    {
        let from = fromMs.map { $0 - (($0 % Self.hourMs) + Self.hourMs) % Self.hourMs }
        return try env.read { txn in
            var out: [RefusalCount] = []
            try txn.forEach(dbs.refusals) { k, value in
                let item = try LedgerCodec.decodeRefusal(key: k, value: value)
                if let from, item.hourMs < from { return }
                if let toMs, item.hourMs >= toMs { return }
                if let team, item.team != team { return }
                if let key, item.key != key { return }
                out.append(item)
            }
            return out
        }
    }
}

/// One refusal counter: how many requests of `team` and `key` (empty when unknown) were refused
/// for `reason` in the UTC hour starting at `hourMs`.
package struct RefusalCount: Sendable, Equatable {
    package var hourMs: Int64
    package var team: String
    package var key: String
    /// A `RefusalReason` raw value (kept as text, so a ledger written by a newer Flashgate reads).
    package var reason: String
    package var count: Int

    package init(hourMs: Int64, team: String, key: String, reason: String, count: Int) {
        self.hourMs = hourMs
        self.team = team
        self.key = key
        self.reason = reason
        self.count = count
    }
}

extension LedgerCodec {
    /// `refusals` keys: the hour (big-endian, sign bit flipped), then team, key and reason, each
    /// UTF-8 and ended by a zero byte; the value is the count (Int64, big-endian).
    static func refusalKey(_ k: RefusalTally.Key) -> [UInt8] {
        key(UInt64(bitPattern: k.hourMs) ^ (1 << 63)) + Array(k.team.utf8) + [0] + Array(k.key.utf8) + [0]
            + Array(k.reason.utf8) + [0]
    }

    static func decodeRefusal(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    ) throws(LedgerError)
        -> RefusalCount
    {
        guard key.count >= 11 else { throw Reader.corrupt("short refusal key") }
        var reader = Reader(key)
        let hourMs = Int64(bitPattern: try reader.uint64() ^ (1 << 63))
        let fields = key[8...].split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count == 4, fields[3].isEmpty else { throw Reader.corrupt("refusal key fields") }
        func text(_ bytes: Slice<UnsafeRawBufferPointer>) -> String { String(decoding: bytes, as: UTF8.self) }
        return RefusalCount(
            hourMs: hourMs, team: text(fields[0]), key: text(fields[1]), reason: text(fields[2]),
            count: Int(try decodeInt64(value)))
    }
}
