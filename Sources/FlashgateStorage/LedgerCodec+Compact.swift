import FlashgateCore

/// Version 4 of the request row: the compact encoding. A row's time and id already live in its
/// key, so the value leaves them out; integers are LEB128 varints (most token counts take one or
/// two bytes, not eight); strings carry a varint length; the cache status, outcome and service
/// tier are one-byte codes (code 0 is followed by the text, so a value this version does not know
/// still round-trips); a budget key that starts with the row's own `team:<team>:` or `key:<key>:`
/// stores a one-byte tag instead of that prefix. Versions 1–3 still decode
/// (`LedgerCodec.decodeSettlement`).
extension LedgerCodec {
    static let compactSettlementVersion: UInt8 = 4

    static let cacheStatusCodes = ["hit", "miss", "joined", "bypass", "embed", "count"]
    static let outcomeCodes = ["ok", "upstream_error", "disconnected", "timeout", "recovered", "incomplete"]
    static let tierCodes = ["standard", "flex", "priority"]

    static func encodeCompact(_ s: SettlementRecord) -> [UInt8] {
        var w = Writer()
        w.bytes.reserveCapacity(96)
        w.byte(compactSettlementVersion)
        w.byte(s.reservationID == nil ? 0 : 1)
        for text in [s.team, s.key, s.model, s.route] { w.shortString(text) }
        for n in [s.promptTokens, s.cachedTokens, s.outputTokens, s.thoughtsTokens, s.searchQueries] {
            w.varint(UInt64(clamping: max(0, n)))
        }
        w.signedVarint(s.cost.value)
        w.code(s.cacheStatus, in: cacheStatusCodes)
        w.code(s.outcome, in: outcomeCodes)
        w.code(s.serviceTier, emptyAllowed: true, in: tierCodes)
        w.varint(UInt64(s.budgetKeys.count))
        for budgetKey in s.budgetKeys { w.budgetKey(budgetKey, team: s.team, key: s.key) }
        w.shortStrings(s.attempts)
        return w.bytes
    }

    /// Decodes a version-4 value; `timeMs` and `rowID` come from the row's key.
    static func decodeCompact(
        _ bytes: UnsafeRawBufferPointer, timeMs: Int64, rowID: UInt64
    ) throws(LedgerError)
        -> SettlementRecord
    {
        var r = Reader(bytes)
        guard try r.byte() == compactSettlementVersion else { throw Reader.corrupt("not a compact row") }
        let hasID = try r.byte() != 0
        var record = SettlementRecord(
            reservationID: hasID ? rowID : nil, timeMs: timeMs, team: try r.shortString(), key: try r.shortString(),
            model: try r.shortString(), route: try r.shortString(), promptTokens: Int(clamping: try r.varint()),
            cachedTokens: Int(clamping: try r.varint()), outputTokens: Int(clamping: try r.varint()),
            thoughtsTokens: Int(clamping: try r.varint()), searchQueries: Int(clamping: try r.varint()),
            cost: MicroUSD(try r.signedVarint()), cacheStatus: try r.code(in: cacheStatusCodes),
            outcome: try r.code(in: outcomeCodes), budgetKeys: [])
        record.serviceTier = try r.code(emptyAllowed: true, in: tierCodes)
        let budgetKeys = try r.varint()
        guard budgetKeys <= UInt64(bytes.count) else { throw Reader.corrupt("list past the end") }
        record.budgetKeys = try (0..<Int(budgetKeys)).map { _ throws(LedgerError) in
            try r.budgetKey(team: record.team, key: record.key)
        }
        record.attempts = try r.shortStrings()
        return record
    }

    /// Any stored row version: the compact one needs the key's time and id, older ones carry them.
    static func decodeRow(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    ) throws(LedgerError)
        -> SettlementRecord
    {
        guard key.count >= 16, !value.isEmpty else { throw Reader.corrupt("short request row") }
        guard value[0] == compactSettlementVersion else { return try decodeSettlement(value) }
        var k = Reader(key)
        let timeMs = Int64(bitPattern: try k.uint64() ^ (1 << 63))
        return try decodeCompact(value, timeMs: timeMs, rowID: try k.uint64())
    }
}

extension LedgerCodec.Writer {
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    /// Zig-zag, so small negative amounts stay small.
    mutating func signedVarint(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
    mutating func shortString(_ s: String) {
        varint(UInt64(s.utf8.count))
        bytes += s.utf8
    }
    mutating func shortStrings(_ list: [String]) {
        varint(UInt64(list.count))
        for s in list { shortString(s) }
    }
    /// The 1-based index of `value` in `codes`; 0 then the text when it is not one of them. With
    /// `emptyAllowed`, 255 stands for the empty string.
    mutating func code(_ value: String, emptyAllowed: Bool = false, in codes: [String]) {
        if emptyAllowed && value.isEmpty { return byte(255) }
        if let index = codes.firstIndex(of: value) { return byte(UInt8(index + 1)) }
        byte(0)
        shortString(value)
    }
}

extension LedgerCodec.Writer {
    /// Tag 1: `team:<team>:` + rest; tag 2: `key:<key>:` + rest; tag 0: the whole text.
    mutating func budgetKey(_ budgetKey: String, team: String, key: String) {
        for (tag, prefix) in [(UInt8(1), "team:\(team):"), (2, "key:\(key):")] where budgetKey.hasPrefix(prefix) {
            byte(tag)
            return shortString(String(budgetKey.utf8.dropFirst(prefix.utf8.count))!)
        }
        byte(0)
        shortString(budgetKey)
    }
}

extension LedgerCodec.Reader {
    mutating func budgetKey(team: String, key: String) throws(LedgerError) -> String {
        switch try byte() {
        case 0: return try shortString()
        case 1: return "team:\(team):" + (try shortString())
        case 2: return "key:\(key):" + (try shortString())
        default: throw Self.corrupt("unknown budget key tag")
        }
    }

    mutating func varint() throws(LedgerError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw Self.corrupt("varint too long") }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }
    mutating func signedVarint() throws(LedgerError) -> Int64 {
        let z = try varint()
        return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
    }
    mutating func shortString() throws(LedgerError) -> String {
        let n = try varint()
        guard n <= UInt64(bytes.count - offset) else { throw Self.corrupt("string past the end") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(n)]), as: UTF8.self)
        offset += Int(n)
        return s
    }
    mutating func shortStrings() throws(LedgerError) -> [String] {
        let n = try varint()
        guard n <= UInt64(bytes.count - offset) else { throw Self.corrupt("list past the end") }
        return try (0..<Int(n)).map { _ throws(LedgerError) in try shortString() }
    }
    mutating func code(emptyAllowed: Bool = false, in codes: [String]) throws(LedgerError) -> String {
        let b = try byte()
        if emptyAllowed && b == 255 { return "" }
        if b == 0 { return try shortString() }
        guard Int(b) <= codes.count else { throw Self.corrupt("unknown code \(b)") }
        return codes[Int(b) - 1]
    }
}
