/// The stored form of a `CacheEntry`: a compact binary header, then the body, compressed when it
/// is large.
///
/// Layout, integers big-endian:
///
///     "FC" 0x01 or "FC" 0x02            magic and version (3 bytes): 1 zlib body, 2 raw body
///     createdAtMs, expiresAtMs, costMicroUSD   Int64 each
///     bodyBytes                         UInt32, the uncompressed size
///     team, model                       UInt16 length + UTF-8 each
///     usage                             UInt8 count, then per kind UInt8 length + UTF-8 + Int64
///     bodyCRC                           UInt32, CRC-32 of the raw body (version 2 only)
///     headerCRC                         UInt32, CRC-32 of every byte above
///     body                              zlib stream (level 1), or the body's bytes (version 2)
///
/// Bodies up to `rawBodyLimit` are stored raw: a hit then skips inflating (a new zlib stream
/// per hit cost more than the copy saves on small answers) and the writer skips deflating.
///
/// Invariant: a value that decodes passed its header CRC and, for a zlib body, zlib's Adler-32
/// and an exact length check, for a raw body its exact length and CRC-32, so a damaged value is
/// reported as damaged, never as an answer.
enum CacheRecord {
    static let magic: [UInt8] = [0x46, 0x43, 0x01]
    static let rawMagic: [UInt8] = [0x46, 0x43, 0x02]
    /// Bodies up to this size are stored uncompressed.
    static let rawBodyLimit = 8 << 10
    /// Bodies beyond this are not cached (and a header claiming more is damaged).
    static let maxBodyBytes = 256 << 20

    /// The header fields, decoded from a stored value.
    struct Header {
        var createdAtMs: Int64
        var expiresAtMs: Int64
        var costMicroUSD: Int64
        var bodyBytes: Int
        var team: String
        var model: String
        var usage: [String: Int]
        /// Where the body starts in the value.
        var bodyOffset: Int
        /// The CRC-32 of a body stored raw; nil for a zlib body.
        var rawBodyCRC: UInt32? = nil
    }

    /// Compresses and frames `entry`; nil when it cannot be represented (a body over
    /// `maxBodyBytes`, a team or model over 65535 bytes, more than 255 usage kinds or a kind over
    /// 255 bytes).
    static func encode(_ entry: CacheEntry) -> [UInt8]? {
        let team = Array(entry.team.utf8)
        let model = Array(entry.model.utf8)
        guard entry.body.count <= maxBodyBytes, team.count <= 0xFFFF, model.count <= 0xFFFF, entry.usage.count <= 0xFF
        else { return nil }
        var out: [UInt8] = []
        let raw = entry.body.count <= rawBodyLimit
        out.reserveCapacity(64 + team.count + model.count + entry.usage.count * 24 + entry.body.count / (raw ? 1 : 2))
        out += raw ? rawMagic : magic
        append(&out, entry.createdAtMs)
        append(&out, entry.expiresAtMs)
        append(&out, entry.costMicroUSD)
        append(&out, UInt32(entry.body.count))
        append(&out, UInt16(team.count))
        out += team
        append(&out, UInt16(model.count))
        out += model
        out.append(UInt8(entry.usage.count))
        for (kind, count) in entry.usage.sorted(by: { $0.key < $1.key }) {
            let name = Array(kind.utf8)
            guard name.count <= 0xFF else { return nil }
            out.append(UInt8(name.count))
            out += name
            append(&out, Int64(count))
        }
        if raw { append(&out, entry.body.withUnsafeBytes { Zlib.crc32($0) }) }
        append(&out, out.withUnsafeBytes { Zlib.crc32($0) })
        out += raw ? entry.body : Zlib.compress(entry.body, level: 1)
        return out
    }

    /// Decodes and checks the header; nil when the value is damaged.
    static func header(_ value: UnsafeRawBufferPointer) -> Header? {
        var reader = ByteReader(value)
        guard let version = reader.bytes(magic.count),
            version.elementsEqual(magic) || version.elementsEqual(rawMagic),
            let createdAtMs = reader.int64(), let expiresAtMs = reader.int64(), let costMicroUSD = reader.int64(),
            let bodyBytes = reader.uint32(), Int(bodyBytes) <= maxBodyBytes,
            let teamLength = reader.uint16(), let team = reader.string(Int(teamLength)),
            let modelLength = reader.uint16(), let model = reader.string(Int(modelLength)),
            let kinds = reader.uint8()
        else { return nil }
        var usage: [String: Int] = [:]
        usage.reserveCapacity(Int(kinds))
        for _ in 0..<kinds {
            guard let length = reader.uint8(), let kind = reader.string(Int(length)), let count = reader.int64() else {
                return nil
            }
            usage[kind] = Int(truncatingIfNeeded: count)
        }
        var rawBodyCRC: UInt32?
        if value[2] == rawMagic[2] {
            guard let crc = reader.uint32() else { return nil }
            rawBodyCRC = crc
        }
        let covered = reader.offset
        guard let crc = reader.uint32(), crc == Zlib.crc32(UnsafeRawBufferPointer(rebasing: value[..<covered])) else {
            return nil
        }
        return Header(
            createdAtMs: createdAtMs, expiresAtMs: expiresAtMs, costMicroUSD: costMicroUSD, bodyBytes: Int(bodyBytes),
            team: team, model: model, usage: usage, bodyOffset: reader.offset, rawBodyCRC: rawBodyCRC)
    }

    /// The body that follows `header` in `value`, inflated or checked.
    static func entry(_ header: Header, in value: UnsafeRawBufferPointer) throws(ZlibError) -> CacheEntry {
        let stored = UnsafeRawBufferPointer(rebasing: value[header.bodyOffset...])
        let body: [UInt8]
        if let expected = header.rawBodyCRC {
            guard stored.count == header.bodyBytes else {
                throw ZlibError(reason: stored.count < header.bodyBytes ? .truncated : .trailingData, message: "raw body length")
            }
            guard Zlib.crc32(stored) == expected else { throw ZlibError(reason: .corrupt, message: "raw body CRC") }
            body = Array(stored)
        } else {
            body = try Zlib.decompress(stored, exactOutputBytes: header.bodyBytes)
        }
        return CacheEntry(
            body: body, team: header.team, model: header.model, createdAtMs: header.createdAtMs,
            expiresAtMs: header.expiresAtMs, costMicroUSD: header.costMicroUSD, usage: header.usage)
    }

    private static func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.bigEndian) { out += $0 }
    }
}

/// Bounds-checked big-endian reads over borrowed bytes: every read past the end gives nil.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    mutating func string(_ count: Int) -> String? {
        bytes(count).map { String(decoding: $0, as: UTF8.self) }
    }

    mutating func uint8() -> UInt8? { integer() }
    mutating func uint16() -> UInt16? { integer() }
    mutating func uint32() -> UInt32? { integer() }
    mutating func int64() -> Int64? { integer() }

    private mutating func integer<T: FixedWidthInteger>() -> T? {
        guard let raw = bytes(MemoryLayout<T>.size) else { return nil }
        return raw.reduce(T.zero) { $0 << 8 | T(truncatingIfNeeded: $1) }
    }
}

/// Big-endian integers in index keys, so LMDB's byte order is time order.
enum CacheIndexKey {
    /// `timeMs` (sign bit flipped so negative times sort first) followed by the cache key.
    static func make(_ timeMs: Int64, _ key: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + key.count)
        withUnsafeBytes(of: (UInt64(bitPattern: timeMs) ^ (1 << 63)).bigEndian) { out += $0 }
        out += key
        return out
    }

    /// Splits an index key back into its time and cache key; nil when too short.
    static func split(_ raw: UnsafeRawBufferPointer) -> (timeMs: Int64, key: [UInt8])? {
        guard raw.count > 8 else { return nil }
        let bits = raw[..<8].reduce(UInt64.zero) { $0 << 8 | UInt64($1) }
        return (Int64(bitPattern: bits ^ (1 << 63)), Array(raw[8...]))
    }
}
