import Dispatch

/// One queued change to the response cache.
enum CacheWriteOp: Sendable {
    case put(key: [UInt8], CacheEntry)
    /// Deletes `key` only while its value is still the one a lookup saw expired or damaged, so a
    /// fresh answer stored in the meantime survives.
    case deleteIfUnchanged(key: [UInt8], ValueFingerprint)
}

/// Identifies a stored value cheaply enough to ask "is this still the same value?".
struct ValueFingerprint: Sendable, Equatable {
    var count: Int
    var crc: UInt32

    init(_ value: UnsafeRawBufferPointer) {
        count = value.count
        crc = Zlib.crc32(value)
    }

    func matches(_ value: UnsafeRawBufferPointer) -> Bool {
        value.count == count && Zlib.crc32(value) == crc
    }
}

/// What the cache's callers have queued for its writer, behind a pthread mutex (which
/// ThreadSanitizer understands). Invariant: `drainScheduled` is true from the moment an op is
/// queued with no drain pending until a drain finds the queue empty, so every op is drained.
final class CacheWriteBacklog: @unchecked Sendable {
    struct State {
        var ops: [CacheWriteOp] = []
        var drainScheduled = false
        /// Set by `close`: later ops are dropped.
        var closed = false
        var sweeper: (any DispatchSourceTimer)?
    }

    private let lock = WriterLock()
    private var state = State()

    func withLock<R>(_ body: (inout State) -> R) -> R {
        lock.withLock { body(&state) }
    }
}
