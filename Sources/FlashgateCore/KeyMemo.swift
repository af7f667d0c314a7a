import Synchronization

/// Presented virtual keys already resolved, so a key is hashed with SHA-256 once, not on every
/// request (68k instructions each, the largest identity cost on a cache hit).
///
/// The memo never keeps a key: entries are indexed by a 128-bit fingerprint of its bytes, two
/// SipHash outputs under salts drawn when the memo is made, so a heap dump reveals no usable key
/// and a lookup's timing depends on the fingerprint only, not on how much of a valid key a guess
/// matches. Only keys the identity table accepted are remembered; a key with other bytes (a
/// rejected key, or another Unicode spelling of an accepted one) always takes the full SHA-256
/// path. Bounded: when `limit` entries are held the memo starts over. One memo belongs to one
/// `Identity`, so a reload (a new `Identity`) forgets every key the old configuration accepted.
package final class KeyMemo: Sendable {
    struct Fingerprint: Hashable, Sendable {
        var high: UInt64
        var low: UInt64
    }

    private let callers = Mutex<[Fingerprint: Caller]>([:])
    private let salts: (UInt64, UInt64)
    let limit: Int

    package init(limit: Int = 1024) {
        var rng = SystemRandomNumberGenerator()
        salts = (rng.next(), rng.next())
        self.limit = limit
    }

    /// The caller a key with this text resolved to before, if remembered.
    package func caller(for key: String) -> Caller? {
        let mark = fingerprint(key)
        return callers.withLock { $0[mark] }
    }

    /// Remembers an accepted key's caller.
    package func remember(_ key: String, as caller: Caller) {
        let mark = fingerprint(key)
        callers.withLock { table in
            if table.count >= limit { table.removeAll(keepingCapacity: true) }
            table[mark] = caller
        }
    }

    /// Keys remembered (for tests).
    package var count: Int { callers.withLock { $0.count } }

    /// Of the key's UTF-8 bytes, as its SHA-256 is: `String` hashing treats canonically
    /// equivalent text (é as one scalar, or as e and a combining accent) as one string, and the
    /// other spelling of an accepted key must not be answered from the memo.
    func fingerprint(_ key: String) -> Fingerprint {
        var high = Hasher()
        high.combine(salts.0)
        var low = Hasher()
        low.combine(salts.1)
        var key = key
        key.withUTF8 { bytes in
            high.combine(bytes.count)
            high.combine(bytes: UnsafeRawBufferPointer(bytes))
            low.combine(bytes.count)
            low.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
        return Fingerprint(high: UInt64(bitPattern: Int64(high.finalize())), low: UInt64(bitPattern: Int64(low.finalize())))
    }
}
