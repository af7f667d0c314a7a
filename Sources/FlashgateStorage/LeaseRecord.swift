import FlashgateCore

/// An open budget lease on disk (the ledger's `leases` database, keyed by its group): money
/// granted to a lease group and not yet settled or handed back. Its amount counts against every
/// budget key it covers; after a crash, what is left of it is charged as spent at the next start.
package struct LeaseRecord: Sendable, Equatable {
    /// The lease group: the budget-period keys it covers, joined, or `caller:<team>:<key>`.
    package var group: String
    package var team: String
    /// The key's name when the group covers a key's budgets, else empty.
    package var key: String
    package var budgetKeys: [String]
    package var amount: MicroUSD

    package init(group: String, team: String, key: String, budgetKeys: [String], amount: MicroUSD) {
        self.group = group
        self.team = team
        self.key = key
        self.budgetKeys = budgetKeys
        self.amount = amount
    }

    /// The row that charges a lease a crash left open: its remainder, conservatively as spent.
    package func recovered(nowMs: Int64) -> SettlementRecord {
        SettlementRecord(
            reservationID: nil, timeMs: nowMs, team: team, key: key, model: "", route: "", cost: amount,
            cacheStatus: "lease", outcome: "recovered", budgetKeys: budgetKeys)
    }
}

extension LedgerCodec {
    static let leaseVersion: UInt8 = 1

    static func leaseKey(_ group: String) -> [UInt8] {
        // LMDB keys are at most 511 bytes; a longer group is keyed by a prefix and its length.
        let bytes = Array(group.utf8)
        return bytes.count <= 480 ? bytes : Array(bytes.prefix(460)) + key(UInt64(bytes.count)) + key(hash(bytes))
    }

    static func encode(_ lease: LeaseRecord) -> [UInt8] {
        var w = Writer()
        w.byte(leaseVersion)
        w.string(lease.group)
        w.string(lease.team)
        w.string(lease.key)
        w.strings(lease.budgetKeys)
        w.int64(lease.amount.value)
        return w.bytes
    }

    static func decodeLease(_ bytes: UnsafeRawBufferPointer) throws(LedgerError) -> LeaseRecord {
        var r = Reader(bytes)
        guard try r.byte() == leaseVersion else { throw Reader.corrupt("unknown lease version") }
        return LeaseRecord(
            group: try r.string(), team: try r.string(), key: try r.string(), budgetKeys: try r.strings(),
            amount: MicroUSD(try r.int64()))
    }

    /// FNV-1a, for keys too long to store whole.
    private static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
