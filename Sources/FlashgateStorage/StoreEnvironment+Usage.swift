internal import CLMDB

/// How full an environment's map is: the pages it has ever used, less the pages freed for
/// reuse, against the map size. `mdb_env_info`'s last page alone is a high-water mark that
/// never falls; LMDB reuses freed pages, so those count as room.
package struct StoreUsage: Sendable, Equatable {
    package var usedBytes: Int
    package var mapSizeBytes: Int

    package init(usedBytes: Int, mapSizeBytes: Int) {
        self.usedBytes = usedBytes
        self.mapSizeBytes = mapSizeBytes
    }

    /// Whole percent of the map in use.
    package var percent: Int { mapSizeBytes > 0 ? Int((Int64(usedBytes) * 100) / Int64(mapSizeBytes)) : 0 }
}

extension StoreEnvironment {
    /// Pages in use (high-water mark minus the free list) and the map size, in bytes. Runs a
    /// read transaction over LMDB's free-page database (dbi 0), as `mdb_stat -f` does.
    package func usage() throws -> StoreUsage {
        try withOpenEnv { env in
            var info = MDB_envinfo()
            try check(mdb_env_info(env, &info), .stat, path: path)
            var envStat = MDB_stat()
            try check(mdb_env_stat(env, &envStat), .stat, path: path)
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), .begin, path: path)
            defer { mdb_txn_abort(txn) }
            var cursor: OpaquePointer?
            try check(mdb_cursor_open(txn, 0, &cursor), .cursor, path: path)
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val()
            var value = MDB_val()
            var free = 0
            var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
            while rc == MDB_SUCCESS {
                // Each record is an ID list whose first word is its length.
                if value.mv_size >= MemoryLayout<Int>.size, let data = value.mv_data {
                    free += data.loadUnaligned(as: Int.self)
                }
                rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc, .cursor, path: path) }
            let pages = max(0, info.me_last_pgno + 1 - free)
            return StoreUsage(usedBytes: pages * Int(envStat.ms_psize), mapSizeBytes: info.me_mapsize)
        }
    }
}
