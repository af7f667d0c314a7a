import FlashgateCore

/// The ledger's compact binary encoding: a version byte, then fixed-width big-endian integers and
/// length-prefixed UTF-8 strings in a fixed order. A new field means a new version; readers keep
/// decoding every older one, because the ledger is never rebuilt.
enum LedgerCodec {
    static let reservationVersion: UInt8 = 1
    /// Version 2 added `attempts`, version 3 `serviceTier`; older rows still decode (with no
    /// attempts, and no tier: they were all standard).
    static let settlementVersion: UInt8 = 3

    /// A big-endian key for `value`, so byte order is numeric order.
    static func key(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    /// `requests` keys: the time (sign bit flipped, so negative times sort first) then the row id.
    static func requestKey(timeMs: Int64, rowID: UInt64) -> [UInt8] {
        key(UInt64(bitPattern: timeMs) ^ (1 << 63)) + key(rowID)
    }

    static func encode(_ r: ReservationRecord) -> [UInt8] {
        var w = Writer()
        w.byte(reservationVersion)
        w.uint64(r.id)
        w.int64(r.timeMs)
        w.string(r.team)
        w.string(r.key)
        w.string(r.model)
        w.string(r.route)
        w.int64(r.amount.value)
        w.strings(r.budgetKeys)
        return w.bytes
    }

    static func decodeReservation(_ bytes: UnsafeRawBufferPointer) throws(LedgerError) -> ReservationRecord {
        var r = Reader(bytes)
        guard try r.byte() == reservationVersion else { throw Reader.corrupt("unknown reservation version") }
        return ReservationRecord(
            id: try r.uint64(), timeMs: try r.int64(), team: try r.string(), key: try r.string(), model: try r.string(),
            route: try r.string(), amount: MicroUSD(try r.int64()), budgetKeys: try r.strings())
    }

    static func encode(_ s: SettlementRecord) -> [UInt8] {
        var w = Writer()
        w.byte(settlementVersion)
        w.byte(s.reservationID == nil ? 0 : 1)
        w.uint64(s.reservationID ?? 0)
        w.int64(s.timeMs)
        w.string(s.team)
        w.string(s.key)
        w.string(s.model)
        w.string(s.route)
        for n in [s.promptTokens, s.cachedTokens, s.outputTokens, s.thoughtsTokens, s.searchQueries] { w.int64(Int64(n)) }
        w.int64(s.cost.value)
        w.string(s.cacheStatus)
        w.string(s.outcome)
        w.strings(s.budgetKeys)
        w.strings(s.attempts)
        w.string(s.serviceTier)
        return w.bytes
    }

    static func decodeSettlement(_ bytes: UnsafeRawBufferPointer) throws(LedgerError) -> SettlementRecord {
        var r = Reader(bytes)
        let version = try r.byte()
        guard (1...settlementVersion).contains(version) else { throw Reader.corrupt("unknown settlement version") }
        let hasID = try r.byte() != 0
        let id = try r.uint64()
        var record = SettlementRecord(
            reservationID: hasID ? id : nil, timeMs: try r.int64(), team: try r.string(), key: try r.string(),
            model: try r.string(), route: try r.string(), promptTokens: Int(try r.int64()),
            cachedTokens: Int(try r.int64()), outputTokens: Int(try r.int64()), thoughtsTokens: Int(try r.int64()),
            searchQueries: Int(try r.int64()), cost: MicroUSD(try r.int64()), cacheStatus: try r.string(),
            outcome: try r.string(), budgetKeys: try r.strings())
        if version >= 2 { record.attempts = try r.strings() }
        if version >= 3 { record.serviceTier = try r.string() }
        return record
    }

    static func decodeInt64(_ bytes: UnsafeRawBufferPointer) throws(LedgerError) -> Int64 {
        var r = Reader(bytes)
        return try r.int64()
    }

    struct Writer {
        var bytes: [UInt8] = []

        mutating func byte(_ b: UInt8) { bytes.append(b) }
        mutating func uint64(_ v: UInt64) { bytes += LedgerCodec.key(v) }
        mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }
        mutating func string(_ s: String) {
            let utf8 = Array(s.utf8)
            uint64(UInt64(utf8.count))
            bytes += utf8
        }
        mutating func strings(_ list: [String]) {
            uint64(UInt64(list.count))
            for s in list { string(s) }
        }
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        static func corrupt(_ what: String) -> LedgerError { LedgerError(.corruptRecord, "corrupt ledger record: \(what)") }

        mutating func byte() throws(LedgerError) -> UInt8 {
            guard offset < bytes.count else { throw Self.corrupt("truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }
        mutating func uint64() throws(LedgerError) -> UInt64 {
            guard bytes.count - offset >= 8 else { throw Self.corrupt("truncated") }
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
            offset += 8
            return v
        }
        mutating func int64() throws(LedgerError) -> Int64 { Int64(bitPattern: try uint64()) }
        mutating func string() throws(LedgerError) -> String {
            let n = try uint64()
            guard n <= UInt64(bytes.count - offset) else { throw Self.corrupt("string past the end") }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(n)]), as: UTF8.self)
            offset += Int(n)
            return s
        }
        mutating func strings() throws(LedgerError) -> [String] {
            let n = try uint64()
            guard n <= UInt64(bytes.count - offset) else { throw Self.corrupt("list past the end") }
            return try (0..<Int(n)).map { _ throws(LedgerError) in try string() }
        }
    }
}
