import Foundation

/// How long a per-day quota keeps a route out. Google resets requests-per-day quotas at midnight
/// Pacific time, so a route that answered one is out until then: retrying it sooner cannot help,
/// whatever short `retryDelay` the same 429 carries. When the upstream asks for a longer wait than
/// that, the longer one wins, so we never come back earlier than asked.
extension UpstreamFailure {
    /// The zone of Google's daily quota reset (a fixed UTC-8 if the zone database is missing).
    package static let dailyQuotaTimeZone =
        TimeZone(identifier: "America/Los_Angeles") ?? TimeZone(secondsFromGMT: -8 * 3_600)!

    /// The time from `nowUnixSeconds` (the injected wall clock) until this per-day quota resets;
    /// nil when the failure is not a per-day quota.
    package func dailyQuotaReset(nowUnixSeconds: Int64) -> Duration? {
        guard perDayQuota else { return nil }
        let now = Date(timeIntervalSince1970: TimeInterval(nowUnixSeconds))
        let seconds = BudgetPeriod.day.secondsUntilEnd(after: now, timeZone: Self.dailyQuotaTimeZone) ?? 86_400
        return max(.seconds(seconds), retryDelay ?? .zero)
    }
}
