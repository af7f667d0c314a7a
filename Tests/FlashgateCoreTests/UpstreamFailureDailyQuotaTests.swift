import Testing

@testable import FlashgateCore

/// When a per-day quota resets: the next midnight Pacific, or a longer retry delay the upstream asked for.
@Suite struct UpstreamFailureDailyQuotaTests {
    static let perDay = GoogleErrorBody.quota(retryDelay: nil, quotaId: "GenerateRequestsPerDayPerProjectPerModel")

    @Test func aPerDayQuotaResetsAtTheNextMidnightPacific() {
        let failure = UpstreamFailure(status: 429, body: Self.perDay)
        // 2027-01-15T08:00:00Z is midnight PST: a whole day to go.
        #expect(failure.dailyQuotaReset(nowUnixSeconds: 1_800_000_000) == .seconds(86_400))
        // 2027-01-15T20:00:00Z is noon PST.
        #expect(failure.dailyQuotaReset(nowUnixSeconds: 1_800_043_200) == .seconds(43_200))
        // 2026-07-01T06:59:59Z is 23:59:59 PDT (UTC-7): one second to go.
        #expect(failure.dailyQuotaReset(nowUnixSeconds: 1_782_889_199) == .seconds(1))
    }

    @Test func aShorterRetryDelayIsNotTrustedALongerOneIs() {
        let short = UpstreamFailure(
            status: 429,
            body: GoogleErrorBody.quota(retryDelay: "36s", quotaId: "GenerateRequestsPerDayPerProjectPerModel"))
        #expect(short.dailyQuotaReset(nowUnixSeconds: 1_800_043_200) == .seconds(43_200))
        let long = UpstreamFailure(
            status: 429,
            body: GoogleErrorBody.quota(retryDelay: "50000s", quotaId: "GenerateRequestsPerDayPerProjectPerModel"))
        #expect(long.dailyQuotaReset(nowUnixSeconds: 1_800_043_200) == .seconds(50_000))
    }

    @Test func otherFailuresHaveNoDailyReset() {
        let perMinute = UpstreamFailure(status: 429, body: GoogleErrorBody.quota(quotaId: "GenerateRequestsPerMinute"))
        #expect(perMinute.dailyQuotaReset(nowUnixSeconds: 1_800_000_000) == nil)
        #expect(UpstreamFailure.unreachable.dailyQuotaReset(nowUnixSeconds: 0) == nil)
    }
}
