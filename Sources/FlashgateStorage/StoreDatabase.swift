/// A named database inside a `StoreEnvironment`. A plain handle: it is only meaningful with the
/// environment that opened it, and stays valid until that environment is closed.
package struct StoreDatabase: Sendable, Hashable {
    package let name: String
    /// LMDB's `MDB_dbi`.
    let handle: UInt32

    init(name: String, handle: UInt32) {
        self.name = name
        self.handle = handle
    }
}

/// What `StoreEnvironment.stats` reports: enough to watch the map fill up.
package struct StoreStats: Sendable, Equatable {
    /// Entries summed over every named database opened so far.
    package var entries: Int
    /// Entries per named database.
    package var entriesByDatabase: [String: Int]
    /// The configured map size (`store.max_size`).
    package var mapSizeBytes: Int
    /// Pages in use, in bytes: how much of the map is taken.
    package var usedBytes: Int
    package var pageSizeBytes: Int
    /// Reader slots in use (live read transactions, including stale ones).
    package var readers: Int
}
