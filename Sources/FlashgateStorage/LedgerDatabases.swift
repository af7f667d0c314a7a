/// The named databases of the ledger's own durable environment (`<store>/ledger`):
/// - `reservations`: id (big-endian) → `ReservationRecord`, only while open;
/// - `settled`: reservation id → its `requests` key; a second settlement of an id finds it and
///   does nothing (exactly once); retention deletes it with its row, days after the settlement;
/// - `requests`: time (big-endian, sign-flipped) + row id → `SettlementRecord`, one row per request;
/// - `totals`: budget key (UTF-8) → settled running total in micro-dollars (Int64, big-endian);
/// - `meta`: `next_id` → the next id that has never been handed out;
/// - `refusals`: UTC hour + team + key + reason → how many requests were refused (Int64,
///   big-endian): counters, not rows (`Ledger+Refusals`);
/// - `leases`: lease group → `LeaseRecord`, budget money granted ahead of need and not yet
///   settled or handed back (`Ledger+Leases`).
/// - `rollups`: UTC hour + team, key, model, route, tier, cache status, outcome → summed counts
///   (`LedgerRollup`): $0 events as they happen, and request rows past their retention.
struct LedgerDatabases: Sendable {
    let reservations: StoreDatabase
    let settled: StoreDatabase
    let requests: StoreDatabase
    let totals: StoreDatabase
    let meta: StoreDatabase
    let refusals: StoreDatabase
    let leases: StoreDatabase
    let rollups: StoreDatabase

    static let nextIDKey = Array("next_id".utf8)

    init(_ env: StoreEnvironment) throws {
        reservations = try env.database("reservations")
        settled = try env.database("settled")
        requests = try env.database("requests")
        totals = try env.database("totals")
        meta = try env.database("meta")
        refusals = try env.database("refusals")
        leases = try env.database("leases")
        rollups = try env.database("rollups")
    }
}
