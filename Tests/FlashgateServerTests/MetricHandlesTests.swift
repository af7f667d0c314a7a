import FlashgateCore
import FlashgateRouting
import Foundation
import Testing

@testable import FlashgateServer

/// `finished` records through cached handles: repeated requests add up exactly as registry
/// lookups did, label values outside the configured sets fold into `other` and add no entries,
/// and a reload's new labels get their own series while old series keep counting.
@Suite struct MetricHandlesTests {
    static func config(teams: [String]) -> FlashgateConfig {
        var config = FlashgateConfig(
            routes: [RouteConfig(name: "r0", kind: .gemini, baseURL: "http://127.0.0.1:9", apiKey: nil, passthrough: true)],
            models: [ModelConfig(id: "flash", routes: [ModelRoute(route: "r0", upstreamModel: "gemini-3.5-flash")])])
        config.teams = teams.map { TeamConfig(id: $0) }
        return config
    }

    static func summary(team: String, model: String, cache: String = "miss", status: Int = 200) -> RequestRecord.Summary {
        var s = RequestRecord.Summary(requestID: "r", method: "POST", endpoint: "chat")
        s.status = status
        s.team = team
        s.model = model
        s.route = "r0"
        s.cache = cache
        s.promptTokens = 3
        s.outputTokens = 5
        s.cost = MicroUSD(250_000)
        s.duration = .milliseconds(7)
        s.timeToFirstByte = .milliseconds(6)
        s.upstreamTime = .milliseconds(4)
        s.attempts = [
            AttemptRecord(route: "r0", outcome: .status(503), duration: .milliseconds(1)),
            AttemptRecord(route: "r0", outcome: .answered, duration: .milliseconds(3)),
        ]
        return s
    }

    static func lines(_ telemetry: PrometheusTelemetry) -> [String] {
        String(decoding: telemetry.scrape(.init()), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func repeatedRequestsAddUpExactly() {
        let telemetry = PrometheusTelemetry(config: Self.config(teams: ["search"]))
        for _ in 0..<5 { telemetry.finished(Self.summary(team: "search", model: "flash")) }
        for index in 0..<20 { telemetry.finished(Self.summary(team: "stranger\(index)", model: "made-up-\(index)")) }
        let text = Self.lines(telemetry)
        #expect(
            text.contains(
                #"flashgate_requests_total{endpoint="chat",model="flash",team="search",route="r0",status="200",cache="miss"} 5"#))
        #expect(
            text.contains(
                #"flashgate_requests_total{endpoint="chat",model="other",team="other",route="r0",status="200",cache="miss"} 20"#))
        #expect(text.contains(#"flashgate_tokens_total{team="search",model="flash",kind="prompt"} 15"#))
        #expect(text.contains(#"flashgate_cost_usd_total{team="search",model="flash"} 1.25"#))
        #expect(text.contains(#"flashgate_upstream_attempts_total{route="r0",outcome="503"} 25"#))
        #expect(text.contains(#"flashgate_upstream_retries_total{route="r0"} 25"#))
        #expect(text.contains(#"flashgate_request_duration_seconds_count{endpoint="chat"} 25"#))
        // Twenty unknown teams and models share the `other` series: handles for two label tuples per family.
        let afterTwentyFive = telemetry.handles.count
        for index in 0..<50 { telemetry.finished(Self.summary(team: "x\(index)", model: "y\(index)")) }
        #expect(telemetry.handles.count == afterTwentyFive)
    }

    /// A response that did not end whole (its client left, or a stream was cut) is counted
    /// apart: it had been only a 200 among the others.
    @Test func abortedAnswersAreCountedApart() {
        let telemetry = PrometheusTelemetry(config: Self.config(teams: ["search"]))
        for aborted in [false, true, false] {
            var summary = Self.summary(team: "search", model: "flash")
            summary.aborted = aborted
            telemetry.finished(summary)
        }
        let text = Self.lines(telemetry)
        #expect(text.contains(#"flashgate_requests_aborted_total{endpoint="chat",team="search"} 1"#))
        #expect(
            text.contains(
                #"flashgate_requests_total{endpoint="chat",model="flash",team="search",route="r0",status="200",cache="miss"} 3"#))
    }

    /// Flashgate's own share of a call answered at its first attempt is time to first byte less
    /// libcurl's time (the hand-offs to the curl thread and back are Flashgate's); after retries
    /// it is less the retry owner's time, whose failed attempts and backoff were the upstream's.
    @Test func overheadIsTimeToFirstByteLessTheUpstreamsOwnTime() {
        let telemetry = PrometheusTelemetry(config: Self.config(teams: ["search"]))
        var first = Self.summary(team: "search", model: "flash")
        first.attempts = [AttemptRecord(route: "r0", outcome: .answered, duration: .milliseconds(4))]
        first.upstreamWireTime = .milliseconds(3)
        telemetry.finished(first)  // 6 ms to first byte, 3 ms in libcurl: 3 ms its own
        var retried = Self.summary(team: "search", model: "flash")
        retried.upstreamWireTime = .milliseconds(2)
        telemetry.finished(retried)  // two attempts, 4 ms upstream in all: 2 ms its own
        var unmeasured = Self.summary(team: "search", model: "flash")
        unmeasured.attempts = [AttemptRecord(route: "r0", outcome: .answered, duration: .milliseconds(4))]
        telemetry.finished(unmeasured)  // no libcurl time (a mock route): 6 - 4 = 2 ms
        let sum = Self.lines(telemetry).first { $0.hasPrefix(#"flashgate_overhead_seconds_sum{endpoint="chat"}"#) }
        let seconds = sum.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(seconds.map { abs($0 - 0.007) < 1e-9 } == true, "\(sum ?? "no sum")")
    }

    @Test func reloadedTeamsGetTheirOwnSeriesAndOldOnesKeepCounting() {
        let telemetry = PrometheusTelemetry(config: Self.config(teams: ["search"]))
        telemetry.finished(Self.summary(team: "search", model: "flash"))
        telemetry.finished(Self.summary(team: "ads", model: "flash"))
        telemetry.update(config: Self.config(teams: ["search", "ads"]))
        telemetry.finished(Self.summary(team: "search", model: "flash"))
        telemetry.finished(Self.summary(team: "ads", model: "flash", cache: "hit"))
        let text = Self.lines(telemetry)
        #expect(
            text.contains(
                #"flashgate_requests_total{endpoint="chat",model="flash",team="search",route="r0",status="200",cache="miss"} 2"#))
        #expect(
            text.contains(
                #"flashgate_requests_total{endpoint="chat",model="flash",team="other",route="r0",status="200",cache="miss"} 1"#))
        #expect(
            text.contains(
                #"flashgate_requests_total{endpoint="chat",model="flash",team="ads",route="r0",status="200",cache="hit"} 1"#))
        // A hit adds no tokens.
        #expect(!text.contains { $0.hasPrefix(#"flashgate_tokens_total{team="ads""#) })
    }

    @Test func pastTheLimitHandlesAreLookedUpAndStillCount() {
        let handles = MetricHandles(limit: 2)
        let telemetry = PrometheusTelemetry(config: Self.config(teams: []))
        for status in [200, 201, 202, 200, 201, 202] {
            handles.counter(.init(family: .attempts, a: String(status))) {
                telemetry.registry.makeCounter(descriptor: PrometheusTelemetry.Family.requests.descriptor, labels: [("status", String(status))])
            }.increment()
        }
        #expect(handles.count == 2)
        let text = Self.lines(telemetry)
        for status in [200, 201, 202] { #expect(text.contains(#"flashgate_requests_total{status="\#(status)"} 2"#)) }
    }

    /// Past the limit a request's bundle is not kept, and its series still count exactly.
    @Test func pastTheLimitRequestBundlesStillCount() {
        let telemetry = PrometheusTelemetry(config: Self.config(teams: []))
        let handles = MetricHandles(limit: 1)
        for status in ["200", "503", "200", "503"] {
            let key = MetricHandles.RequestKey(
                endpoint: "chat", team: "other", model: "other", route: "r0", status: status, cache: "miss")
            handles.request(key).counter(.requests) {
                telemetry.registry.makeCounter(
                    descriptor: PrometheusTelemetry.Family.requests.descriptor, labels: [("status", status)])
            }.increment()
        }
        #expect(handles.count == 1)
        let text = Self.lines(telemetry)
        for status in [200, 503] { #expect(text.contains(#"flashgate_requests_total{status="\#(status)"} 2"#)) }
    }
}
