/// A ledger failure that is not LMDB's own (those are `StoreError`): the ledger is closed, a
/// stored record cannot be read, or an operation contradicts what is already recorded.
package struct LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Reason: String, Sendable {
        case closed
        case corruptRecord = "corrupt_record"
        case alreadySettled = "already_settled"
        case open
        /// The ledger is (nearly) full: the write was not made.
        case full
        /// Another process has the ledger open (`flashgate ledger compact` refuses).
        case inUse = "in_use"
    }

    package var reason: Reason
    package var message: String

    package init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    package var description: String { "ledger: \(message)" }
}
