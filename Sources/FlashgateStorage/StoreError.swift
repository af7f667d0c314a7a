internal import CLMDB
import Foundation

/// A failure of the LMDB store. It carries the LMDB (or errno) code, the library's own text for
/// it and the store's path, so an operator who reads one log line knows what failed and where.
package struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step that failed, from a closed set, safe as a metric label.
    package enum Operation: String, Sendable {
        case createDirectory = "create_directory"
        case open
        case openDatabase = "open_database"
        case begin
        case commit
        case get
        case put
        case delete
        case cursor
        case stat
        case copy
        case closed
    }

    package var operation: Operation
    /// An LMDB return code (`MDB_*`, negative) or an errno value (positive).
    package var code: Int32
    /// `mdb_strerror(code)` or a sentence of our own for failures LMDB does not know about.
    package var message: String
    /// The environment directory.
    package var path: String

    package init(_ operation: Operation, code: Int32, message: String, path: String) {
        self.operation = operation
        self.code = code
        self.message = message
        self.path = path
    }

    /// Builds the error for an LMDB return code with LMDB's own text for it.
    static func lmdb(_ operation: Operation, _ code: Int32, path: String) -> StoreError {
        StoreError(operation, code: code, message: String(cString: mdb_strerror(code)), path: path)
    }

    package var description: String {
        "store \(path): \(operation.rawValue) failed: \(message) (code \(code))"
    }

    /// The map is full: `store.max_size` is too small for what is kept.
    package var isMapFull: Bool { code == MDB_MAP_FULL }

    /// More named databases were opened than `maxDatabases` allows.
    package var isDatabasesFull: Bool { code == MDB_DBS_FULL }
}

/// Turns an LMDB return code into a thrown `StoreError`; the one checked-call choke point.
@inline(__always)
func check(_ code: Int32, _ operation: StoreError.Operation, path: String) throws(StoreError) {
    if code != MDB_SUCCESS { throw StoreError.lmdb(operation, code, path: path) }
}
