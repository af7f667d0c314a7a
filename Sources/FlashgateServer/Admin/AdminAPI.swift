import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import Foundation

/// `GET /admin/usage`, `/admin/budgets`, `/admin/routes` and `/admin/dashboard.json`, behind the
/// admin key (`Authorization: Bearer`).
///
/// Invariant: without the admin key configured, or presented, nothing is read: the 403 or 401 is
/// thrown and rendered by `Gateway.handle` (no refusal: no model is called). Reports are read off
/// the event loop, after the refusals counted before them are committed.
struct AdminAPI: Sendable {
    let config: FlashgateConfig
    let accountant: Accountant
    let routes: RouteTable
    let health: RouteHealth
    let prices: PriceTable
    /// Unix milliseconds, injected for tests on a manual clock.
    let nowMilliseconds: @Sendable () -> Int64

    func usage(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        try answer(request) { [self] in try usageReport(request) }
    }

    func budgets(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        try answer(request) { [self] in budgetReport() }
    }

    func routeHealth(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        try answer(request) { [self] in health.report(routes: config.routes) }
    }

    func dashboard(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        try answer(request) { [self] in try dashboardReport(request) }
    }

    private func answer(_ request: GatewayRequest, _ body: @escaping @Sendable () throws -> JSONValue)
        throws(FlashgateError) -> GatewayResult
    {
        guard let adminKey = config.accounting.adminKey else {
            throw FlashgateError(.forbidden, "the admin API is off: set accounting.admin_key_env to enable it")
        }
        let presented = BearerToken.parse(request.headers.first(name: "authorization"))
        guard let presented, VirtualKey.hashHex(presented) == VirtualKey.hashHex(adminKey.value) else {
            throw FlashgateError(.unauthorized, "the admin API needs the admin key")
        }
        // Ledger reads can take a while on a big ledger: off the event loop. Refusals counted
        // before this request are committed first, so the report includes them.
        return .deferred { [accountant] writer in
            await accountant.ledger?.flushRefusals()
            do {
                await writer.respond(.json(try body()))
            } catch let error as FlashgateError {
                await writer.respond(.error(error, dialect: .openAI))
            } catch {
                await writer.respond(.error(FlashgateError(.internal, "could not read the ledger: \(error)"), dialect: .openAI))
            }
        }
    }

    static let maxUsageDays = 36_500

    /// Usage by team, key, model and UTC day; filters `team`, `key`, `model`, `days`.
    private func usageReport(_ request: GatewayRequest) throws -> JSONValue {
        guard let ledger = accountant.ledger else { return ["data": []] }
        var from: Int64?
        if let text = request.queryItem("days") {
            // At most a hundred years: a count past what milliseconds hold must not overflow.
            guard let days = Int(text), (1...Self.maxUsageDays).contains(days) else {
                throw FlashgateError.invalid("days must be a whole number from 1 to \(Self.maxUsageDays)")
            }
            // Whole UTC days, as `flashgate usage --days`: 1 is today so far. A rolling window of
            // days × 24 h had answered a slice of one more UTC day than the CLI, counted as a day.
            let dayMs: Int64 = 86_400_000
            let today = nowMilliseconds()
            from = (today / dayMs - (today % dayMs < 0 ? 1 : 0) - Int64(days - 1)) * dayMs
        }
        let rows = try ledger.usage(
            from: from, to: nil, team: request.queryItem("team"), key: request.queryItem("key"), model: request.queryItem("model"))
        return UsageReport.make(rows: rows, prices: accountant.prices)
    }

    /// Every budget: limit, settled, reserved and remaining in its current period.
    private func budgetReport() -> JSONValue {
        BudgetReport.make(statuses: accountant.budgets.all(now: accountant.now), shared: accountant.shared)
    }

    /// The dashboard's data over the last `hours` (default 24, at most 31 days): ledger rows of
    /// the window, every budget with its period bounds, and route health (`DashboardReport`).
    private func dashboardReport(_ request: GatewayRequest) throws -> JSONValue {
        var hours = DashboardReport.defaultHours
        if let text = request.queryItem("hours") {
            guard let value = Int(text), (1...DashboardReport.maxHours).contains(value) else {
                throw FlashgateError.invalid("hours must be a whole number from 1 to \(DashboardReport.maxHours)")
            }
            hours = value
        }
        let nowMs = nowMilliseconds()
        let rows = try accountant.ledger?.usageRecords(from: nowMs - Int64(hours) * 3_600_000) ?? []
        let refusals = try accountant.ledger?.refusals(from: nowMs - Int64(hours) * 3_600_000) ?? []
        let now = Date(timeIntervalSince1970: Double(nowMs) / 1000)
        let timeZone = accountant.budgets.timeZone
        let budgets = accountant.budgets.all(now: now).compactMap { status -> DashboardBudget? in
            guard let suffix = status.name.split(separator: ":").last, let period = BudgetPeriod(rawValue: String(suffix))
            else { return nil }
            return DashboardBudget(
                status: status, period: period, periodStart: period.start(at: now, timeZone: timeZone),
                cluster: accountant.shared?.cluster(status.key))
        }
        let report = DashboardReport.make(
            rows: rows, refusals: refusals, budgets: budgets, nowMs: nowMs, hours: hours, prices: prices,
            upstreamModel: { [routes] model in (try? routes.resolve(model: model))?.primary.pricedModel ?? model },
            routeHealth: health.report(routes: config.routes))
        guard let shared = accountant.shared, case .object(var object) = report else { return report }
        object["shared"] = BudgetReport.sharedJSON(shared)
        return .object(object)
    }
}
