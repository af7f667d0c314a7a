import FlashgateCore
import FlashgateWire

/// The money of automatic context caching: a cache's creation is a paid call like any other (its
/// tokens at the input rate), and its rent is reserved against the budgets of the team that
/// caused it before Gemini is asked, then settled by the time the cache actually lived.
///
/// Invariant: a storage reservation holds budget only, never a rate-limit slot (it lives for the
/// cache's lifetime, not a request's); it settles exactly once, as a `context_storage` row.
extension Accountant {
    /// Ledger `cacheStatus` of a cache's create call.
    package static let contextCreateStatus = "context_create"
    /// Ledger `cacheStatus` of a cache's rent.
    package static let contextStorageStatus = "context_storage"

    /// Reserves `amount` of rent for a cache `caller` causes; refused like any paid call when the
    /// budget cannot hold it.
    package func admitStorage(
        caller: Caller, clientModel: String, upstreamModel: String, route: String, amount: MicroUSD
    ) -> AdmissionDecision {
        // Not rate limited: asking the limiter refused the rent of a create whose own call held
        // the team's last concurrent slot, and took a request from its per-minute limit.
        admit(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: amount,
            tokens: 0, rateLimited: false)
    }

    /// Settles a storage reservation at `cost` (the rent of the time the cache lived).
    @discardableResult
    package func settleStorage(_ admission: Admission, cost: MicroUSD) async -> MicroUSD {
        var charged = admission
        charged.amount = cost
        // With no usage, an `.ok` settlement charges the admission's amount: here, the rent.
        return await settle(charged, usage: nil, ending: .ok, cacheStatus: Self.contextStorageStatus)
    }
}
