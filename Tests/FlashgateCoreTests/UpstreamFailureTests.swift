import Testing

@testable import FlashgateCore

/// Google error bodies shaped like the ones Gemini sends (gemini-wire.md §7).
enum GoogleErrorBody {
    static func quota(retryDelay: String? = "36s", quotaId: String, quotaMetric: String = "generate_content_requests")
        -> [UInt8]
    {
        var details = [
            #"{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/\#(quotaMetric)","quotaId":"\#(quotaId)","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"},"quotaValue":"10"}]}"#,
            #"{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}"#,
        ]
        if let retryDelay {
            details.append(#"{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"\#(retryDelay)"}"#)
        }
        return status(429, "RESOURCE_EXHAUSTED", details: details)
    }

    static func status(_ code: Int, _ status: String, details: [String] = []) -> [UInt8] {
        let text =
            #"{"error":{"code":\#(code),"message":"failed","status":"\#(status)","details":[\#(details.joined(separator: ","))]}}"#
        return Array(text.utf8)
    }
}

@Suite struct UpstreamFailureTests {
    @Test func rateLimitCarriesTheExactRetryDelay() {
        let body = GoogleErrorBody.quota(
            retryDelay: "3.957525076s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier")
        let failure = UpstreamFailure(status: 429, body: body)
        #expect(failure.isRetryable)
        #expect(failure.retryDelay == .seconds(3) + .nanoseconds(957_525_076))
        #expect(!failure.perDayQuota)
    }

    @Test func perDayQuotaIsRecognisedByIdOrMetric() {
        let byId = UpstreamFailure(
            status: 429, body: GoogleErrorBody.quota(quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier"))
        #expect(byId.perDayQuota && byId.isRetryable)
        let byMetric = UpstreamFailure(
            status: 429,
            body: GoogleErrorBody.quota(quotaId: "SomeQuota", quotaMetric: "generate_content_requests_per_day"))
        #expect(byMetric.perDayQuota)
        let perMinute = UpstreamFailure(status: 429, body: GoogleErrorBody.quota(quotaId: "GenerateRequestsPerMinute"))
        #expect(!perMinute.perDayQuota)
    }

    @Test func arrayWrappedStreamingErrorIsRead() {
        let inner = GoogleErrorBody.quota(retryDelay: "0.5s", quotaId: "RequestsPerDay")
        let failure = UpstreamFailure(status: 429, body: Array("[".utf8) + inner + Array("]".utf8))
        #expect(failure.retryDelay == .milliseconds(500))
        #expect(failure.perDayQuota)
    }

    @Test(arguments: [408, 429, 500, 502, 503, 504])
    func retryableStatuses(status: Int) {
        #expect(UpstreamFailure(status: status, body: GoogleErrorBody.status(status, "X")).isRetryable)
    }

    @Test(arguments: [400, 401, 403, 404, 409, 413, 501])
    func otherStatusesAreNotRetried(status: Int) {
        let failure = UpstreamFailure(status: status, body: GoogleErrorBody.status(status, "INVALID_ARGUMENT"))
        #expect(!failure.isRetryable)
        #expect(failure.cause == .status(status))
    }

    @Test func safetyBlockIsNotRetried() {
        let body = Array(#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}"#.utf8)
        let failure = UpstreamFailure(status: 200, body: body)
        #expect(failure.cause == .safetyBlock)
        #expect(!failure.isRetryable)
    }

    @Test func emptyOrGarbageBodyStillClassifiesByStatus() {
        #expect(UpstreamFailure(status: 503, body: [UInt8]()).isRetryable)
        #expect(UpstreamFailure(status: 503, body: Array("<html>".utf8)).retryDelay == nil)
    }

    @Test func flashgateErrorKinds() {
        #expect(UpstreamFailure(FlashgateError(.upstreamUnreachable, "refused")) == .unreachable)
        #expect(UpstreamFailure(FlashgateError(.upstreamTimeout, "slow")) == .timeout)
        #expect(UpstreamFailure.unreachable.isRetryable && UpstreamFailure.timeout.retryDelay == nil)
        let upstream = FlashgateError.fromUpstream(
            status: 429, body: GoogleErrorBody.quota(retryDelay: "3s", quotaId: "X"))
        #expect(UpstreamFailure(upstream).retryDelay == .seconds(3))
        #expect(!UpstreamFailure(FlashgateError.invalid("bad")).isRetryable)
    }

    @Test func protobufDurations() {
        #expect(UpstreamFailure.parseProtobufDuration("3.957525076s") == .seconds(3) + .nanoseconds(957_525_076))
        #expect(UpstreamFailure.parseProtobufDuration("36s") == .seconds(36))
        #expect(UpstreamFailure.parseProtobufDuration("0.5s") == .milliseconds(500))
        #expect(UpstreamFailure.parseProtobufDuration("1.000000001s") == .seconds(1) + .nanoseconds(1))
        for malformed in ["", "s", "3", "3.s", ".5s", "-1s", "3.1234567891s", "3 s", "abc", "1e3s", "3.5ms", "+3s"] {
            #expect(UpstreamFailure.parseProtobufDuration(malformed) == nil, "\(malformed)")
        }
    }

    @Test func retryAfterSecondsAndHTTPDate() {
        let now: Int64 = 784_111_777  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(UpstreamFailure.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == now)
        #expect(UpstreamFailure.parseHTTPDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(UpstreamFailure.parseHTTPDate("Tue, 29 Feb 2028 23:59:59 GMT") == 1_835_481_599)
        #expect(UpstreamFailure.parseRetryAfter("120", nowUnixSeconds: now) == .seconds(120))
        #expect(UpstreamFailure.parseRetryAfter(" 7 ", nowUnixSeconds: now) == .seconds(7))
        #expect(UpstreamFailure.parseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", nowUnixSeconds: now) == .seconds(30))
        #expect(UpstreamFailure.parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", nowUnixSeconds: now) == .zero)
        for malformed in ["", "-5", "1.5", "soon", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT"] {
            #expect(UpstreamFailure.parseRetryAfter(malformed, nowUnixSeconds: now) == nil, "\(malformed)")
        }
    }

    @Test func longerOfBodyDelayAndHeaderWins() {
        let body = GoogleErrorBody.quota(retryDelay: "3s", quotaId: "X")
        #expect(UpstreamFailure(status: 429, body: body, retryAfter: "10").retryDelay == .seconds(10))
        #expect(UpstreamFailure(status: 429, body: body, retryAfter: "1").retryDelay == .seconds(3))
        #expect(UpstreamFailure(status: 503, body: [UInt8](), retryAfter: "2").retryDelay == .seconds(2))
    }

    @Test func anAnswerThatEndedBeforeItsFirstEventIsRetryable() {
        let failure = UpstreamFailure(
            FlashgateError(.upstreamProtocol, "the upstream stream ended without sending an answer"))
        #expect(failure.cause == .noAnswer)
        #expect(failure.isRetryable)
        var random = SystemRandomNumberGenerator()
        let loop = RetryLoop(policy: .standard)
        if case .giveUp(let reason) = loop.next(after: failure, attempt: 1, elapsed: .zero, random: &random) {
            Issue.record("gave up: \(reason)")
        }
    }
}
