internal import CLMDB
import Foundation

/// Page accounting and copy-compaction of one LMDB environment, for the ledger's operator tools.
extension StoreEnvironment {
    /// Pages (branch, leaf and overflow) each named database uses right now, and the page size.
    package func pagesByDatabase(_ names: [String]) throws -> (pages: [String: Int], pageSize: Int) {
        let dbs = try names.map { ($0, try database($0)) }
        return try read { txn in
            var pages: [String: Int] = [:]
            var pageSize = 4096
            for (name, db) in dbs {
                let stat = try txn.core.stat(db)
                pages[name] = stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages
                pageSize = Int(stat.ms_psize)
            }
            return (pages, pageSize)
        }
    }

    /// Writes a compacted copy (`MDB_CP_COMPACT`: only pages in use, free pages dropped) of this
    /// environment into the existing empty directory `directory`, as `data.mdb`. A consistent
    /// snapshot: writers may keep committing while it runs.
    package func copyCompacted(to directory: String) throws(StoreError) {
        do {
            try withOpenEnv { env in
                try check(mdb_env_copy2(env, directory, UInt32(MDB_CP_COMPACT)), .copy, path: directory)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.copy, code: EIO, message: "\(error)", path: directory)
        }
    }

    /// The process, other than this one, that has the environment in `directory` open, if any.
    /// LMDB holds a shared `fcntl` lock on the first byte of `lock.mdb` for as long as a process
    /// has the environment open; a probe for a write lock finds it (never our own locks).
    package static func holder(of directory: String) -> Int32? {
        let fd = Foundation.open(directory + "/lock.mdb", O_RDWR)
        guard fd >= 0 else { return nil }
        defer { _ = Foundation.close(fd) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        probe.l_start = 0
        probe.l_len = 1
        guard fcntl(fd, F_GETLK, &probe) == 0, probe.l_type != Int16(F_UNLCK) else { return nil }
        return Int32(probe.l_pid)
    }
}

extension TransactionCore {
    /// A copy of the last key of `db`, or nil when it is empty.
    func lastKey(_ db: StoreDatabase) throws -> [UInt8]? {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.handle, &cursor), .cursor, path: path)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        let rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, .cursor, path: path)
        return Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size))
    }

    func stat(_ db: StoreDatabase) throws -> MDB_stat {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.handle, &stat), .stat, path: path)
        return stat
    }
}
