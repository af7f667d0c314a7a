import FlashgateCore
import FlashgateWire
import NIOCore

/// Chat requests already translated, by their exact bytes and caller: a repeated prompt (the
/// response cache's hits) skips parsing, translating and, where the primary route is the same,
/// building and hashing its Gemini body — about a quarter of a hit's instructions. Only calls the
/// response cache serves take part: a `no-store` request (or the cache off for it) is neither
/// looked up nor kept. A request seen once costs its bytes' hash (SipHash over 8-byte words, ~6
/// instructions a byte) and a copy of them, which is why bodies over `maxBodyBytes` are not kept.
///
/// Invariant: an entry holds only what is a function of the bytes, the caller and this gateway's
/// config (a reload builds a new gateway and a new memo): the translated request with the
/// caller's default tier applied, and the primary route's body and cache key. A request whose
/// body depends on anything else is never kept: thought signatures put back from the vault (tool
/// calls with ids, whose stored signatures change), and media named by URL. The body for another
/// primary (a route's health reorders the plan) is built afresh. Bounded: bodies over
/// `maxBodyBytes` are never kept, and past `limit` entries or `byteLimit` body bytes in all the
/// memo starts over.
final class ChatTranslationMemo: Sendable {
    struct Key: Hashable, Sendable {
        let body: [UInt8]
        let caller: Caller
        /// The bytes and caller hashed once, when the key is made: the table hashes only this.
        let digest: Int

        init(body: [UInt8], caller: Caller) {
            self.body = body
            self.caller = caller
            digest = body.withUnsafeBytes { Self.digest($0, caller: caller) }
        }

        func hash(into hasher: inout Hasher) { hasher.combine(digest) }

        static func == (a: Key, b: Key) -> Bool { a.digest == b.digest && a.caller == b.caller && a.body == b.body }

        /// `Hasher` (seeded per process, so no client can aim at one bucket) fed 8-byte words:
        /// `combine(bytes:)` takes ~19 instructions a byte, this ~6.
        static func digest(_ bytes: UnsafeRawBufferPointer, caller: Caller) -> Int {
            var hasher = Hasher()
            hasher.combine(bytes.count)
            var offset = 0
            while offset + 8 <= bytes.count {
                hasher.combine(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
            }
            var tail: UInt64 = 0
            for (shift, byte) in bytes[offset...].enumerated() { tail |= UInt64(byte) << (8 * UInt64(shift)) }
            hasher.combine(tail)
            hasher.combine(caller)
            return hasher.finalize()
        }
    }

    struct Entry: Sendable {
        /// Translated, with the caller's default tier applied.
        var chat: ChatRequest
        /// The primary route (name and upstream model) `primary` and `key` were made for.
        var route: String
        var upstreamModel: String
        var primary: JSONValue
        /// The response-cache key of `primary`; nil until a cacheable call made it.
        var key: CacheKey?
    }

    private let entries: StartOverTable<Key, Entry>
    static let maxBodyBytes = 8 << 10

    init(limit: Int = 512, byteLimit: Int = 2 << 20) {
        entries = StartOverTable(limit: limit, byteLimit: byteLimit)
    }

    /// The memo key of a request, or nil when its body is too large to keep.
    func key(_ body: ByteBuffer, caller: Caller) -> Key? {
        guard body.readableBytes <= Self.maxBodyBytes,
            let bytes = body.getBytes(at: body.readerIndex, length: body.readableBytes)
        else { return nil }
        return Key(body: bytes, caller: caller)
    }

    func entry(_ key: Key) -> Entry? { entries[key] }

    /// Whether a translated request may be kept: nothing in its body comes from outside the
    /// request bytes, the caller and the config.
    static func keepable(_ chat: ChatRequest) -> Bool {
        chat.signatureSlots.isEmpty && chat.pendingMedia.isEmpty
    }

    func remember(_ key: Key, _ entry: Entry) {
        guard Self.keepable(entry.chat) else { return }
        entries.set(key, entry, bytes: key.body.count)
    }

    var count: Int { entries.count }
}
