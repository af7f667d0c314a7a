internal import CLMDB

/// The operations shared by read and write transactions, over one live `MDB_txn`. Internal: the
/// public types below are `~Copyable` and only ever lent to a synchronous closure, so a
/// transaction can neither escape nor outlive the closure that owns it.
struct TransactionCore {
    let txn: OpaquePointer
    let path: String

    func withValue<R>(
        _ db: StoreDatabase, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        var value = MDB_val()
        let rc = key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_get(txn, db.handle, &k, &value)
        }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, .get, path: path)
        return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    func get(_ db: StoreDatabase, key: [UInt8]) throws -> [UInt8]? {
        try withValue(db, key: key) { Array($0) }
    }

    func forEach(
        _ db: StoreDatabase, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.handle, &cursor), .cursor, path: path)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        var op = MDB_FIRST
        while true {
            let rc = mdb_cursor_get(cursor, &key, &value, op)
            if rc == MDB_NOTFOUND { return }
            try check(rc, .cursor, path: path)
            try body(
                UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
                UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
            op = MDB_NEXT
        }
    }

    func count(_ db: StoreDatabase) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.handle, &stat), .stat, path: path)
        return stat.ms_entries
    }

    func put(_ db: StoreDatabase, key: [UInt8], value: some Collection<UInt8>) throws {
        let contiguous = value.withContiguousStorageIfAvailable { buffer in
            put(db, key: key, bytes: UnsafeRawBufferPointer(buffer))
        }
        let rc = contiguous ?? Array(value).withUnsafeBytes { put(db, key: key, bytes: $0) }
        try check(rc, .put, path: path)
    }

    private func put(_ db: StoreDatabase, key: [UInt8], bytes: UnsafeRawBufferPointer) -> Int32 {
        // LMDB copies the value; an empty value still needs a non-null pointer to copy from.
        withUnsafeTemporaryAllocation(byteCount: 1, alignment: 1) { empty in
            key.withUnsafeBytes { keyBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(
                    mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(empty.baseAddress!)))
                return mdb_put(txn, db.handle, &k, &v, 0)
            }
        }
    }

    func delete(_ db: StoreDatabase, key: [UInt8]) throws -> Bool {
        let rc = key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_del(txn, db.handle, &k, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, .delete, path: path)
        return true
    }
}

/// A read-only snapshot of the store, lent to the closure of `StoreEnvironment.read`. Bytes handed
/// to `withValue` and `forEach` point into the memory map and are valid only inside that call.
package struct ReadTransaction: ~Copyable {
    let core: TransactionCore

    init(_ core: TransactionCore) { self.core = core }

    /// A copy of the value for `key`, or nil when there is none.
    package func get(_ db: StoreDatabase, key: [UInt8]) throws -> [UInt8]? { try core.get(db, key: key) }

    /// Lends the value's bytes without copying them; nil (and `body` not called) when absent.
    package func withValue<R>(
        _ db: StoreDatabase, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? { try core.withValue(db, key: key, body) }

    /// Visits every entry in key order. Throw from `body` to stop early.
    package func forEach(
        _ db: StoreDatabase, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws { try core.forEach(db, body) }

    /// The number of entries in `db` as this snapshot sees it.
    package func count(_ db: StoreDatabase) throws -> Int { try core.count(db) }
}

/// The one write transaction of the store, lent to the closure of `StoreEnvironment.write`. It
/// commits when the closure returns and aborts, leaving nothing behind, when it throws.
package struct WriteTransaction: ~Copyable {
    let core: TransactionCore

    init(_ core: TransactionCore) { self.core = core }

    package func get(_ db: StoreDatabase, key: [UInt8]) throws -> [UInt8]? { try core.get(db, key: key) }

    package func withValue<R>(
        _ db: StoreDatabase, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? { try core.withValue(db, key: key, body) }

    package func forEach(
        _ db: StoreDatabase, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws { try core.forEach(db, body) }

    package func count(_ db: StoreDatabase) throws -> Int { try core.count(db) }

    /// Stores `value` under `key`, replacing what was there. Keys are 1 to 511 bytes.
    package func put(_ db: StoreDatabase, key: [UInt8], value: some Collection<UInt8>) throws {
        try core.put(db, key: key, value: value)
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    package func delete(_ db: StoreDatabase, key: [UInt8]) throws -> Bool { try core.delete(db, key: key) }
}
