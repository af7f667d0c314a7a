import Synchronization

/// A memo table shared by the event loops that bounds itself the cheap way: an entry that would
/// take it past `limit` entries or `byteLimit` bytes (as its owner counts them) empties it first.
/// What it holds can always be made again, so starting over costs only the remaking.
final class StartOverTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let state = Mutex<(table: [Key: (value: Value, bytes: Int)], bytes: Int)>(([:], 0))
    let limit: Int
    let byteLimit: Int

    init(limit: Int, byteLimit: Int) {
        self.limit = limit
        self.byteLimit = byteLimit
    }

    subscript(_ key: Key) -> Value? { state.withLock { $0.table[key]?.value } }

    /// Keeps `value` under `key` (in place of what was there), counted as `bytes`.
    func set(_ key: Key, _ value: Value, bytes: Int) {
        state.withLock { memo in
            if memo.table.count >= limit || memo.bytes + bytes > byteLimit {
                memo.table.removeAll(keepingCapacity: true)
                memo.bytes = 0
            }
            memo.bytes += bytes - (memo.table[key]?.bytes ?? 0)
            memo.table[key] = (value, bytes)
        }
    }

    /// Entries held and their bytes (for tests).
    var count: Int { state.withLock { $0.table.count } }
    var bytes: Int { state.withLock { $0.bytes } }
}
