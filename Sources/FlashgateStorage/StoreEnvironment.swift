internal import CLMDB
import Foundation

/// One LMDB environment: a directory holding a memory-mapped B-tree file.
///
/// Invariants: transactions exist only inside the synchronous closures of `read` and `write`
/// (never across an `await`); write transactions are serialised by a lock and so begin and end
/// on one thread; `MDB_NOTLS` lets several read transactions share an OS thread, as Swift tasks
/// on the cooperative pool do; `close()` waits for running transactions and later calls throw.
package final class StoreEnvironment: @unchecked Sendable {
    /// The environment directory.
    package let path: String
    package let maxSizeBytes: Int
    /// Whether commits are flushed to disk (`MDB_NOSYNC` off).
    package let durable: Bool

    private var env: OpaquePointer?
    private var databases: [String: StoreDatabase] = [:]
    private let lifecycle = LifecycleLock()
    private let writer = WriterLock()

    /// Reader slots: concurrently live read transactions across all threads.
    package static let maxReaders: UInt32 = 126

    private init(path: String, maxSizeBytes: Int, durable: Bool, env: OpaquePointer) {
        self.path = path
        self.maxSizeBytes = maxSizeBytes
        self.durable = durable
        self.env = env
    }

    deinit { close() }

    /// Opens (creating if needed) the environment in `directory`.
    ///
    /// - Parameters:
    ///   - maxSizeBytes: the map size, the most the store may ever hold.
    ///   - maxDatabases: how many named databases `database(_:)` may open.
    ///   - durable: when false, commits are not flushed (`MDB_NOSYNC`): a crash may undo the last
    ///     transactions but never corrupts the store. Use it only for data that can be rebuilt.
    package static func open(
        directory: String, maxSizeBytes: Int, maxDatabases: Int = 8, durable: Bool = true
    ) throws(StoreError) -> StoreEnvironment {
        try makeDirectory(directory)
        var handle: OpaquePointer?
        try check(mdb_env_create(&handle), .open, path: directory)
        guard let env = handle else { throw StoreError(.open, code: ENOMEM, message: "mdb_env_create gave no handle", path: directory) }
        do throws(StoreError) {
            try check(mdb_env_set_mapsize(env, maxSizeBytes), .open, path: directory)
            try check(mdb_env_set_maxreaders(env, maxReaders), .open, path: directory)
            try check(mdb_env_set_maxdbs(env, UInt32(clamping: maxDatabases)), .open, path: directory)
            var flags = UInt32(MDB_NOTLS)
            if !durable { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, directory, flags, 0o640), .open, path: directory)
        } catch {
            mdb_env_close(env)
            throw error
        }
        return StoreEnvironment(path: directory, maxSizeBytes: maxSizeBytes, durable: durable, env: env)
    }

    /// Opens (creating if needed) the named database `name`. Handles are cached: asking twice for
    /// one name gives the same database.
    package func database(_ name: String) throws(StoreError) -> StoreDatabase {
        do {
            return try withOpenEnv { env throws in
                try writer.withLock { () throws -> StoreDatabase in
                    if let known = databases[name] { return known }
                    var txn: OpaquePointer?
                    try check(mdb_txn_begin(env, nil, 0, &txn), .begin, path: path)
                    var dbi = MDB_dbi()
                    let rc = mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
                    guard rc == MDB_SUCCESS else {
                        mdb_txn_abort(txn)
                        throw StoreError.lmdb(.openDatabase, rc, path: path)
                    }
                    try check(mdb_txn_commit(txn), .commit, path: path)
                    let db = StoreDatabase(name: name, handle: dbi)
                    databases[name] = db
                    return db
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.openDatabase, code: EINVAL, message: "\(error)", path: path)
        }
    }

    /// Runs `body` in a read-only snapshot. Cheap (about a microsecond); never `await` inside.
    package func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try withOpenEnv { env in
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), .begin, path: path)
            defer { mdb_txn_abort(txn) }
            let transaction = ReadTransaction(TransactionCore(txn: txn!, path: path))
            return try body(transaction)
        }
    }

    /// Runs `body` in the write transaction: it commits when `body` returns and is aborted, with
    /// no effect, when `body` throws. Writers wait for each other. Blocks its thread for the
    /// commit's disk flush when durable, so keep it off the event loops and the cooperative pool
    /// for hot paths. Never `await` inside, and never call `write` from inside `write`.
    package func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        try withOpenEnv { env in
            try writer.withLock {
                var txn: OpaquePointer?
                try check(mdb_txn_begin(env, nil, 0, &txn), .begin, path: path)
                let result: R
                do {
                    let transaction = WriteTransaction(TransactionCore(txn: txn!, path: path))
                    result = try body(transaction)
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                try check(mdb_txn_commit(txn), .commit, path: path)
                return result
            }
        }
    }

    /// Entry counts and map usage.
    package var stats: StoreStats {
        get throws(StoreError) {
            do {
                return try withOpenEnv { env in
                    var info = MDB_envinfo()
                    try check(mdb_env_info(env, &info), .stat, path: path)
                    var envStat = MDB_stat()
                    try check(mdb_env_stat(env, &envStat), .stat, path: path)
                    let known = writer.withLock { databases }
                    var counts: [String: Int] = [:]
                    try read { txn in
                        for (name, db) in known { counts[name] = try txn.count(db) }
                    }
                    return StoreStats(
                        entries: counts.values.reduce(0, +), entriesByDatabase: counts, mapSizeBytes: info.me_mapsize,
                        usedBytes: (info.me_last_pgno + 1) * Int(envStat.ms_psize), pageSizeBytes: Int(envStat.ms_psize),
                        readers: Int(info.me_numreaders))
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError(.stat, code: EINVAL, message: "\(error)", path: path)
            }
        }
    }

    /// Flushes (if durable) and closes the environment. Waits for running transactions; later
    /// calls throw a `.closed` error. Closing twice is harmless.
    package func close() {
        lifecycle.withExclusive {
            guard let env else { return }
            if durable { mdb_env_sync(env, 1) }
            mdb_env_close(env)
            self.env = nil
            databases = [:]
        }
    }

    func withOpenEnv<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        try lifecycle.withShared {
            guard let env else {
                throw StoreError(.closed, code: EBADF, message: "the store is closed", path: path)
            }
            return try body(env)
        }
    }

    /// `mkdir -p`, refusing a file in the way with a message that names the path.
    private static func makeDirectory(_ directory: String) throws(StoreError) {
        guard !directory.isEmpty else {
            throw StoreError(.createDirectory, code: EINVAL, message: "the store path is empty", path: directory)
        }
        var info = stat()
        if stat(directory, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw StoreError(
                .createDirectory, code: ENOTDIR, message: "\(directory) exists and is not a directory", path: directory)
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != directory { try makeDirectory(parent) }
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            let code = errno
            throw StoreError(
                .createDirectory, code: code, message: "cannot create \(directory): \(String(cString: strerror(code)))",
                path: directory)
        }
    }
}
