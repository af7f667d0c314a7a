import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// The one retry owner through a whole Flashgate: several FakeGemini routes, real libcurl, a
/// manual clock and a seeded random source. Nothing here sleeps for real time.
@Suite struct RetryOwnerTests {
    static let ok = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"fine"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}"#
    static let chat = #"{"model":"flash","messages":[{"role":"user","content":"hello"}]}"#

    static func retryInfo(_ delay: String) -> String {
        #"[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"\#(delay)"}]"#
    }

    static let perDay = #"[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]"#

    /// A running Flashgate in front of `count` fake upstreams, one route each (`r0`, `r1`, …),
    /// with model `flash` listing them in order.
    struct Harness {
        let fakes: [FakeGemini]
        let gateway: TestGateway
        let client: RawHTTPClient
        let clock: ManualRetryClock
        let curl: CurlTransport

        static func start(
            _ count: Int, keys: [[String]]? = nil, hedge: HedgeConfig? = nil, weights: [Int?]? = nil,
            retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(500), maxDelay: .seconds(30), deadline: .seconds(120)),
            breaker: CircuitBreakerConfig = CircuitBreakerConfig(), seed: UInt64 = 7, vertex: Bool = false
        ) async throws -> Harness {
            var fakes: [FakeGemini] = []
            for _ in 0..<count { fakes.append(try await FakeGemini.start()) }
            let routes = fakes.enumerated().map { index, fake in
                // A Vertex route signs in with a token (an `AccessTokenSource`) instead of a key.
                vertex
                    ? RouteConfig(
                        name: "r\(index)", kind: .vertex, baseURL: fake.baseURL, apiKeys: [], apiVersion: "v1beta1",
                        vertex: VertexRouteConfig(project: "proj", location: "us-central1", credentials: .token(Secret("t"))),
                        passthrough: false)
                    : RouteConfig(
                        name: "r\(index)", kind: .gemini, baseURL: fake.baseURL,
                        apiKeys: (keys?[index] ?? ["key\(index)"]).map(Secret.init), passthrough: false)
            }
            let model = ModelConfig(
                id: "flash",
                routes: (0..<count).map { ModelRoute(route: "r\($0)", upstreamModel: "gemini-3.5-flash", weight: weights?[$0]) },
                hedge: hedge)
            var config = FlashgateConfig(routes: routes, models: [model])
            config.retry = retry
            config.breaker = breaker
            config.accounting.adminKey = Secret("admin-secret")
            let clock = ManualRetryClock()
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(config: config, http: curl, clock: clock, random: SeededRandom(seed: seed))
            return Harness(
                fakes: fakes, gateway: gateway, client: try await RawHTTPClient.connect(port: gateway.port), clock: clock, curl: curl)
        }

        func post(_ body: String = RetryOwnerTests.chat, path: String = "/v1/chat/completions") async throws -> RawHTTPClient.Response? {
            try await client.request("POST", path, body: body, headers: [("cache-control", "no-store")])
        }

        /// Sends in the background, so the test can move the clock while the request waits.
        func postLater(_ body: String = RetryOwnerTests.chat, path: String = "/v1/chat/completions") -> Task<RawHTTPClient.Response?, any Error> {
            Task { try await post(body, path: path) }
        }

        func routes() async throws -> JSONValue? {
            try await client.request("GET", "/admin/routes", headers: [("authorization", "Bearer admin-secret")])?.json
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            for fake in fakes { try await fake.shutdown() }
        }
    }

    @Test func aRetryDelayOfThreeSecondsIsWaitedThenTheCallSucceeds() async throws {
        let h = try await Harness.start(1)
        h.fakes[0].enqueue(.googleError(status: 429, message: "slow down", googleStatus: "RESOURCE_EXHAUSTED", details: Self.retryInfo("3s")))
        h.fakes[0].enqueue(.json(Self.ok))
        let pending = h.postLater()
        await h.clock.waitForSleepers(1)
        let delay = try #require(h.clock.pendingDelays.first)
        #expect(delay >= .seconds(3))
        #expect(delay <= .seconds(3) + .milliseconds(500))  // the floor, plus at most the first backoff
        #expect(h.fakes[0].requestCount == 1)
        h.clock.advance(by: delay - .milliseconds(1))
        #expect(h.clock.sleeperCount == 1)  // not a moment early
        h.clock.advance(by: .milliseconds(1))
        let response = try await pending.value
        #expect(response?.status == 200)
        #expect(h.fakes[0].requestCount == 2)
        try await h.stop()
    }

    /// A Vertex route's 401 gets a fresh token and one more try; a second 401 in the same request
    /// is the account's (revoked, no permission), not the token's, and is not tried again. It had
    /// been retried up to `max_attempts`.
    @Test func aVertexRouteIsRetriedOnceAfterA401NotUpToMaxAttempts() async throws {
        let h = try await Harness.start(
            1, retry: RetryPolicy(maxAttempts: 4, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(120)), vertex: true)
        for _ in 0..<4 {
            h.fakes[0].enqueue(.googleError(status: 401, message: "token revoked", googleStatus: "UNAUTHENTICATED"))
        }
        let response = try await h.post()
        #expect(response?.status == 401)
        #expect(h.fakes[0].requestCount == 2)
        #expect(h.fakes[0].received.first?.header("authorization") == "Bearer t")
        // A 401 and then an answer: the one more try still serves the request.
        h.fakes[0].clearReplies()
        h.fakes[0].enqueue(.googleError(status: 401, message: "token expired", googleStatus: "UNAUTHENTICATED"))
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.fakes[0].requestCount == 4)
        try await h.stop()
    }

    @Test func fiveHundredTwiceThenSuccessTakesThreeAttempts() async throws {
        let h = try await Harness.start(1)
        h.fakes[0].enqueue(.googleError(status: 500, message: "oops", googleStatus: "INTERNAL"))
        h.fakes[0].enqueue(.googleError(status: 500, message: "oops", googleStatus: "INTERNAL"))
        h.fakes[0].enqueue(.json(Self.ok))
        let pending = h.postLater()
        for _ in 0..<2 {
            await h.clock.waitForSleepers(1)
            h.clock.advanceToNextDeadline()
        }
        let response = try await pending.value
        #expect(response?.status == 200)
        #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "fine")
        #expect(h.fakes[0].requestCount == 3)
        try await h.stop()
    }

    @Test func aPerDayQuotaFailsOverAtOnce() async throws {
        let h = try await Harness.start(2)
        h.fakes[0].enqueue(.googleError(status: 429, message: "quota", googleStatus: "RESOURCE_EXHAUSTED", details: Self.perDay))
        h.fakes[1].enqueue(.json(Self.ok))
        let response = try await h.post()
        #expect(response?.status == 200)
        #expect(h.fakes[0].requestCount == 1)
        #expect(h.fakes[1].requestCount == 1)
        #expect(h.clock.now() == .zero)  // nobody waited
        try await h.stop()
    }

    @Test func aPerDayQuotaOnTheOnlyRouteIsNotRetried() async throws {
        let h = try await Harness.start(1)
        h.fakes[0].enqueue(.googleError(status: 429, message: "quota", googleStatus: "RESOURCE_EXHAUSTED", details: Self.perDay))
        let response = try await h.post()
        #expect(response?.status == 429)
        #expect(h.fakes[0].requestCount == 1)
        try await h.stop()
    }

    @Test func aBadRequestIsNotRetriedOrFailedOver() async throws {
        let h = try await Harness.start(2)
        h.fakes[0].enqueue(.googleError(status: 400, message: "bad field", googleStatus: "INVALID_ARGUMENT"))
        let response = try await h.post()
        #expect(response?.status == 400)
        #expect(response?.text.contains("bad field") == true)
        #expect(h.fakes[0].requestCount == 1)
        #expect(h.fakes[1].requestCount == 0)
        try await h.stop()
    }

    @Test func attemptsNeverExceedTheBudget() async throws {
        // No backoff, so nothing waits; every route always fails with something retryable.
        let retry = RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
        let h = try await Harness.start(2, retry: retry, breaker: CircuitBreakerConfig(consecutiveFailures: 1000, window: 1000))
        var random = SeededRandom(seed: 42)
        var sent = 0
        for _ in 0..<20 {
            for fake in h.fakes {
                for _ in 0..<3 {
                    let status = [500, 502, 503, 504, 429, 408].randomElement(using: &random)!
                    fake.enqueue(.googleError(status: status, message: "no", googleStatus: "UNAVAILABLE"))
                }
            }
            let before = h.fakes.reduce(0) { $0 + $1.requestCount }
            let response = try await h.post()
            sent += 1
            let made = h.fakes.reduce(0) { $0 + $1.requestCount } - before
            #expect(made <= 3)
            #expect(response.map { $0.status >= 400 } == true)
            // Drain what is left so each request starts from the same script length.
            for fake in h.fakes { fake.clearReplies() }
        }
        #expect(sent == 20)
        try await h.stop()
    }

    @Test func aBreakerOpensSkipsHalfOpensAndCloses() async throws {
        let h = try await Harness.start(
            2, breaker: CircuitBreakerConfig(consecutiveFailures: 2, window: 20, failureRatePercent: 100, coolDown: .seconds(30)))
        for _ in 0..<2 {
            h.fakes[0].enqueue(.googleError(status: 503, message: "down", googleStatus: "UNAVAILABLE"))
            h.fakes[1].enqueue(.json(Self.ok))
            #expect(try await h.post()?.status == 200)
        }
        #expect(h.fakes[0].requestCount == 2)
        var routes = try await h.routes()
        #expect(routes?["routes"]?[0]?["state"]?.stringValue == "open")
        #expect(routes?["routes"]?[0]?["recent_errors"]?.arrayValue?.count == 2)
        #expect(routes?["routes"]?[1]?["state"]?.stringValue == "closed")

        // Open: r0 is skipped.
        h.fakes[1].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.fakes[0].requestCount == 2)

        // After the cool-down one probe goes to r0; it succeeds and the breaker closes.
        h.clock.advance(by: .seconds(30))
        routes = try await h.routes()
        #expect(routes?["routes"]?[0]?["state"]?.stringValue == "half_open")
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.fakes[0].requestCount == 3)
        routes = try await h.routes()
        #expect(routes?["routes"]?[0]?["state"]?.stringValue == "closed")
        #expect(routes?["routes"]?[0]?["latency_ms"]?["samples"]?.intValue == 1)
        try await h.stop()
    }

    @Test func aDeadRouteIsFailedOverAndOpensItsBreaker() async throws {
        let dead = try ClosedPort()  // nothing listens there: connection refused
        let deadURL = dead.baseURL
        let live = try await FakeGemini.start()
        let curl = try CurlTransport()
        var config = FlashgateConfig(
            routes: [
                RouteConfig(name: "dead", kind: .gemini, baseURL: deadURL, apiKey: Secret("k"), passthrough: false),
                RouteConfig(name: "live", kind: .gemini, baseURL: live.baseURL, apiKey: Secret("k"), passthrough: false),
            ],
            models: [ModelConfig(id: "flash", routes: [ModelRoute(route: "dead", upstreamModel: "m"), ModelRoute(route: "live", upstreamModel: "m")])])
        config.breaker = CircuitBreakerConfig(consecutiveFailures: 3)
        config.accounting.adminKey = Secret("admin-secret")
        let clock = ManualRetryClock()
        let gateway = try await TestGateway.start(config: config, http: curl, clock: clock)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        for _ in 0..<5 {
            live.enqueue(.json(Self.ok))
            let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: [("cache-control", "no-store")])
            #expect(response?.status == 200)
        }
        #expect(live.requestCount == 5)
        let routes = try await client.request("GET", "/admin/routes", headers: [("authorization", "Bearer admin-secret")])?.json
        #expect(routes?["routes"]?[0]?["state"]?.stringValue == "open")
        #expect(routes?["routes"]?[0]?["failed"]?.intValue == 3)  // skipped once open
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await live.shutdown()
        withExtendedLifetime(dead) {}
    }

    @Test func aStreamFailsOverBeforeItsFirstByte() async throws {
        let h = try await Harness.start(2)
        h.fakes[0].enqueue(.googleError(status: 503, message: "busy", googleStatus: "UNAVAILABLE"))
        h.fakes[1].enqueue(.sse([
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"one "}]},"index":0}]}"#,
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"two"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}"#,
        ]))
        let body = #"{"model":"flash","stream":true,"messages":[{"role":"user","content":"hello"}]}"#
        let response = try await h.post(body)
        #expect(response?.status == 200)
        let text = response?.text ?? ""
        #expect(text.contains("one ") && text.contains("two") && text.contains("[DONE]"))
        #expect(!text.contains("error"))
        #expect(h.fakes[1].received.first?.queryItem("alt") == "sse")
        try await h.stop()
    }

    @Test func aStreamBrokenAfterItsFirstByteEndsWithAnErrorAndNoFailover() async throws {
        let h = try await Harness.start(2)
        var reply = FakeReply.sse([
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"one "}]},"index":0}]}"#,
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"two"}]},"index":0}]}"#,
        ])
        reply.dropAfterChunks = 1
        h.fakes[0].enqueue(reply)
        let body = #"{"model":"flash","stream":true,"messages":[{"role":"user","content":"hello"}]}"#
        let response = try await h.post(body)
        #expect(response?.status == 200)
        let text = response?.text ?? ""
        #expect(text.contains("one "))
        #expect(text.contains("\"error\""))
        #expect(h.fakes[1].requestCount == 0)
        try await h.stop()
    }

    @Test func aSlowRouteIsHedgedAndTheHedgeWins() async throws {
        let h = try await Harness.start(2, hedge: HedgeConfig(after: .seconds(2)))
        let slow = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = slow
        h.fakes[0].enqueue(held)
        h.fakes[1].enqueue(.json(Self.ok))
        let pending = h.postLater()
        await h.fakes[0].waitForRequests(1)
        await h.clock.waitForSleepers(1)
        #expect(h.clock.pendingDelays == [.seconds(2)])
        h.clock.advance(by: .seconds(2))
        let response = try await pending.value
        #expect(response?.status == 200)
        #expect(h.fakes[1].requestCount == 1)
        await h.fakes[0].waitForClosedConnections(1)  // the slow call was cancelled
        slow.open()
        try await h.stop()
    }

    @Test func aHedgeLosesWhenTheFirstCallAnswersFirst() async throws {
        let h = try await Harness.start(2, hedge: HedgeConfig(after: .seconds(2)))
        let first = FakeGate()
        let second = FakeGate()
        var a = FakeReply.json(Self.ok)
        a.gate = first
        var b = FakeReply.json(Self.ok)
        b.gate = second
        h.fakes[0].enqueue(a)
        h.fakes[1].enqueue(b)
        let pending = h.postLater()
        await h.clock.waitForSleepers(1)
        h.clock.advance(by: .seconds(2))
        await h.fakes[1].waitForRequests(1)
        first.open()
        let response = try await pending.value
        #expect(response?.status == 200)
        await h.fakes[1].waitForClosedConnections(1)  // the hedge was cancelled
        second.open()
        #expect(h.fakes[0].requestCount == 1 && h.fakes[1].requestCount == 1)
        try await h.stop()
    }

    @Test func aFastAnswerNeverStartsAHedge() async throws {
        let h = try await Harness.start(2, hedge: HedgeConfig(after: .seconds(2)))
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.fakes[1].requestCount == 0)
        #expect(h.clock.sleeperCount == 0)  // the hedge timer was cancelled
        try await h.stop()
    }

    /// No hedge starts past the retry deadline: with a deadline of 1 s, a hedge after 2 s is
    /// never armed, and the slow first attempt alone answers. It had started at 2 s anyway.
    @Test func noHedgeStartsPastTheRetryDeadline() async throws {
        let h = try await Harness.start(
            2, hedge: HedgeConfig(after: .seconds(2)),
            retry: RetryPolicy(maxAttempts: 4, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(1)))
        let slow = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = slow
        h.fakes[0].enqueue(held)
        h.fakes[1].enqueue(.json(Self.ok))
        let pending = Task { try await h.post() }
        await h.fakes[0].waitForRequests(1)
        #expect(h.clock.sleeperCount == 0, "no hedge timer")
        h.clock.advance(by: .seconds(2))
        slow.open()
        #expect(try await pending.value?.status == 200)
        #expect(h.fakes[1].requestCount == 0)
        try await h.stop()
    }

    @Test func aRefusedKeyIsSetAsideAndTheNextKeyIsUsed() async throws {
        let h = try await Harness.start(1, keys: [["first-key", "second-key"]])
        h.fakes[0].enqueue(.googleError(status: 429, message: "key quota", googleStatus: "RESOURCE_EXHAUSTED"))
        h.fakes[0].enqueue(.json(Self.ok))
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.clock.now() == .zero)  // rotated at once, no backoff
        #expect(try await h.post()?.status == 200)
        let keys = h.fakes[0].received.map { $0.header("x-goog-api-key") }
        #expect(keys == ["first-key", "second-key", "second-key"])
        try await h.stop()
    }

    @Test func aForbiddenKeyRotatesToo() async throws {
        let h = try await Harness.start(1, keys: [["bad", "good"]])
        h.fakes[0].enqueue(.googleError(status: 403, message: "key disabled", googleStatus: "PERMISSION_DENIED"))
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.fakes[0].received.map { $0.header("x-goog-api-key") } == ["bad", "good"])
        try await h.stop()
    }

    @Test func weightedRoutesShareTheLoad() async throws {
        let h = try await Harness.start(2, weights: [3, 1])
        for _ in 0..<40 {
            h.fakes[0].enqueue(.json(Self.ok))
            h.fakes[1].enqueue(.json(Self.ok))
        }
        for _ in 0..<40 { #expect(try await h.post()?.status == 200) }
        let first = h.fakes[0].requestCount
        let second = h.fakes[1].requestCount
        #expect(first + second == 40)
        #expect(first > second && second > 0)
        try await h.stop()
    }

    @Test func aSignatureFromTheFailedRouteIsReplacedOnTheBackup() async throws {
        let h = try await Harness.start(2)
        let callReply = #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"UjAtU0lH"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#
        h.fakes[0].enqueue(.json(callReply))
        let first = try await h.post(#"{"contents":[{"role":"user","parts":[{"text":"find x"}]}]}"#, path: "/v1beta/models/flash:generateContent")
        #expect(first?.status == 200)
        // The next turn carries r0's signature; r0 is down, so it goes to r1 with the skip value.
        let turn = #"{"contents":[{"role":"user","parts":[{"text":"find x"}]},{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"UjAtU0lH"}]},{"role":"user","parts":[{"functionResponse":{"name":"lookup","response":{"r":"X"}}}]}]}"#
        h.fakes[0].enqueue(.googleError(status: 503, message: "down", googleStatus: "UNAVAILABLE"))
        h.fakes[1].enqueue(.json(Self.ok))
        let second = try await h.post(turn, path: "/v1beta/models/flash:generateContent")
        #expect(second?.status == 200)
        let toFirst = h.fakes[0].received.last?.bodyJSON
        let toBackup = h.fakes[1].received.last?.bodyJSON
        #expect(toFirst?["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue == "UjAtU0lH")
        #expect(toBackup?["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue == SignatureOrigins.skipSignature)
        try await h.stop()
    }

    @Test func anAliasReachesTheSameModel() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        var model = ModelConfig(id: "flash", route: "r0", upstreamModel: "gemini-3.5-flash")
        model.aliases = ["fast"]
        let config = FlashgateConfig(
            routes: [RouteConfig(name: "r0", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: false)],
            models: [model])
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        fake.enqueue(.json(Self.ok))
        let response = try await client.request(
            "POST", "/v1/chat/completions", body: #"{"model":"fast","messages":[{"role":"user","content":"hello"}]}"#)
        #expect(response?.status == 200)
        #expect(fake.received.first?.path.contains("gemini-3.5-flash:generateContent") == true)
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    /// A hedge Gemini refused with an error status owes nothing when the first attempt then
    /// answers. The refusal had finished first and was not kept as the race's loser, so the
    /// hedge's reservation settled as if cut off mid-flight: its whole worst case charged.
    @Test func aHedgeRefusedBeforeTheFirstAnswersOwesNothing() async throws {
        let h = try await HedgeLedger.start()
        let slow = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = slow
        h.fakes[0].enqueue(held)
        h.fakes[1].enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        let pending = Task { try await h.ask() }
        await h.clock.waitForSleepers(1)
        h.clock.advance(by: .seconds(2))
        await h.fakes[1].waitForRequests(1)
        slow.open()
        let response = try await pending.value
        #expect(response?.status == 200)
        let rows = try await h.rows(2)
        let served = try #require(rows.first { $0.outcome == "ok" })
        let lost = try #require(rows.first { $0.outcome != "ok" })
        #expect(served.route == "r0")
        #expect(lost.route == "r1")
        #expect(lost.cost == .zero, "refused with 503: nothing to pay")
        #expect(h.ledger.totals(prefix: "team:search").values.reduce(MicroUSD.zero, +) == served.cost)
        try await h.stop()
    }

    /// A call whose attempts never reached Gemini (a refused connection) or were refused with an
    /// error status owes nothing: Gemini billed none of them. A refused connection had counted
    /// as possibly billed, so the failed call was charged its whole reservation.
    @Test func aCallThatNeverReachedGeminiOwesNothing() async throws {
        let closed = try ClosedPort()
        let h = try await HedgeLedger.start(
            firstURL: closed.baseURL, hedge: nil,
            retry: RetryPolicy(maxAttempts: 2, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60)))
        h.fakes[1].enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        let response = try await h.ask()
        #expect(response?.status == 503)
        let row = try #require(try await h.rows(1).first)
        #expect(row.attempts.first?.hasPrefix("r0:unreachable") == true, "\(row.attempts)")
        #expect(row.cost == .zero)
        #expect(h.ledger.totals(prefix: "team:search").values.reduce(MicroUSD.zero, +) == .zero)
        try await h.stop()
    }

    /// An attempt cut off after Gemini began to answer may have been billed, so the retry that
    /// follows takes a reservation of its own and the cut-off attempt is charged the one it had.
    /// Only the last attempt had been settled: the cut-off one cost nothing.
    @Test func anAttemptCutOffBeforeARetryIsChargedItsReservation() async throws {
        let h = try await HedgeLedger.start(
            hedge: nil, retry: RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60)))
        // A 200 head, part of a body, and the connection closed: nothing usable, maybe billed.
        h.fakes[0].enqueue(
            FakeReply(
                headers: [("Content-Type", "application/json")],
                chunks: [Array(#"{"candidates":[{"content""#.utf8), Array("…".utf8)], dropAfterChunks: 1))
        h.fakes[1].enqueue(.json(Self.ok))
        let response = try await h.ask()
        #expect(response?.status == 200)
        let rows = try await h.rows(2)
        #expect(rows.count == 2)
        let served = try #require(rows.first { $0.outcome == "ok" })
        let cut = try #require(rows.first { $0.outcome == "incomplete" })
        #expect(served.route == "r1")
        #expect(cut.cost > served.cost, "the cut-off attempt pays its worst case")
        #expect(h.ledger.totals(prefix: "team:search").values.reduce(MicroUSD.zero, +) == served.cost + cut.cost)
        #expect(try h.ledger.openReservations().isEmpty)
        try await h.stop()
    }

    /// Failing over to a route whose model costs more takes a reservation at that model's price
    /// (the refused attempt's, at the cheaper model, goes back at $0); the call had gone on under
    /// the cheaper model's reservation, so a hard budget could be overspent by the difference.
    @Test func aFailoverToAPricierModelIsReservedAtItsPrice() async throws {
        let h = try await HedgeLedger.start(
            hedge: nil, retry: RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60)),
            upstreamModels: ["gemini-2.5-flash", "gemini-2.5-pro"])
        h.fakes[0].enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        h.fakes[1].enqueue(.json(Self.ok))
        #expect(try await h.ask()?.status == 200)
        let rows = try await h.rows(2)
        let served = try #require(rows.first { $0.outcome == "ok" })
        let refused = try #require(rows.first { $0.outcome != "ok" })
        #expect(served.route == "r1")
        #expect(refused.route == "r0")
        #expect(refused.cost == .zero)
        #expect(try h.ledger.openReservations().isEmpty)
        try await h.stop()

        // Failing over between routes of the same model keeps the one reservation: one row.
        let same = try await HedgeLedger.start(
            hedge: nil, retry: RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60)))
        same.fakes[0].enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        same.fakes[1].enqueue(.json(Self.ok))
        #expect(try await same.ask()?.status == 200)
        let one = try await same.rows(1)
        #expect(one.count == 1)
        #expect(one.first?.attempts.count == 2)
        try await same.stop()
    }

    /// Two routes for `flash` with a hedge after 2 s, a team with a budget and a key, a real ledger.
    struct HedgeLedger {
        let fakes: [FakeGemini]
        let directory: TempDirectory
        let clock: ManualRetryClock
        let curl: CurlTransport
        let gateway: TestGateway
        let client: RawHTTPClient

        var ledger: Ledger { gateway.running.gateway.accountant.ledger! }

        /// `firstURL` in place of the first fake's (a closed port); `hedge` nil: no hedging.
        static func start(
            firstURL: String? = nil, hedge: HedgeConfig? = HedgeConfig(after: .seconds(2)),
            retry: RetryPolicy? = nil, upstreamModels: [String] = ["gemini-3.5-flash", "gemini-3.5-flash"]
        ) async throws -> HedgeLedger {
            let fakes = [try await FakeGemini.start(), try await FakeGemini.start()]
            let directory = try TempDirectory()
            var config = FlashgateConfig(
                routes: fakes.enumerated().map { index, fake in
                    RouteConfig(
                        name: "r\(index)", kind: .gemini, baseURL: index == 0 ? firstURL ?? fake.baseURL : fake.baseURL,
                        apiKey: Secret("k"), passthrough: false)
                },
                models: [
                    ModelConfig(
                        id: "flash",
                        routes: [
                            ModelRoute(route: "r0", upstreamModel: upstreamModels[0]),
                            ModelRoute(route: "r1", upstreamModel: upstreamModels[1]),
                        ],
                        hedge: hedge)
                ])
            var team = TeamConfig(id: "search")
            team.maxOutputTokens = 64
            team.budgets = [BudgetConfig(period: .total, limit: MicroUSD(dollars: "1.00")!)]
            config.teams = [team]
            config.keys = [KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex("sk-hedge"))]
            if let retry { config.retry = retry }
            let clock = ManualRetryClock()
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(
                config: config, http: curl, storeDirectory: directory.path, clock: clock)
            let client = try await RawHTTPClient.connect(port: gateway.port)
            return HedgeLedger(fakes: fakes, directory: directory, clock: clock, curl: curl, gateway: gateway, client: client)
        }

        func ask() async throws -> RawHTTPClient.Response? {
            try await client.request(
                "POST", "/v1/chat/completions", body: RetryOwnerTests.chat,
                headers: [("authorization", "Bearer sk-hedge"), ("cache-control", "no-store")])
        }

        func rows(_ count: Int) async throws -> [SettlementRecord] {
            var rows = try ledger.requestRows()
            while rows.count < count {
                await Task.yield()
                rows = try ledger.requestRows()
            }
            return rows
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            for fake in fakes { try await fake.shutdown() }
            directory.remove()
        }
    }

    @Test func bothSidesOfAHedgeSettleInTheLedger() async throws {
        let h = try await HedgeLedger.start()
        let slow = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = slow
        h.fakes[0].enqueue(held)
        h.fakes[1].enqueue(.json(Self.ok))
        let pending = Task { try await h.ask() }
        await h.clock.waitForSleepers(1)
        h.clock.advance(by: .seconds(2))
        let response = try await pending.value
        #expect(response?.status == 200)
        let ledger = h.ledger
        let rows = try await h.rows(2)
        let served = try #require(rows.first { $0.outcome == "ok" })
        let lost = try #require(rows.first { $0.outcome == "incomplete" })
        #expect(served.route == "r1")
        #expect(served.attempts.count == 2)
        #expect(served.attempts.contains { $0.hasPrefix("r1:ok:") && $0.hasSuffix(":hedge") })
        #expect(served.attempts.contains { $0.hasPrefix("r0:cancelled:") })
        #expect(lost.route == "r0")
        #expect(lost.cost > .zero)  // cut off mid-flight: it may have been billed, so it pays its reservation
        #expect(response?.header("x-flashgate-cost-usd") == served.cost.dollars)
        #expect(ledger.totals(prefix: "team:search").values.reduce(MicroUSD.zero, +) == served.cost + lost.cost)
        #expect(try ledger.openReservations().isEmpty)
        slow.open()
        try await h.stop()
    }

    @Test func aDerivedHedgeWaitsForEnoughSamplesAndHasAFloor() async throws {
        let h = try await Harness.start(2, hedge: HedgeConfig(after: nil))
        // Fewer than 20 answers seen: no threshold yet, so no hedge timer.
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(h.clock.sleeperCount == 0)
        for _ in 0..<20 {
            h.fakes[0].enqueue(.json(Self.ok))
            #expect(try await h.post()?.status == 200)
        }
        // Every answer took no (virtual) time: p95 is zero, so the floor applies.
        let slow = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = slow
        h.fakes[0].enqueue(held)
        h.fakes[1].enqueue(.json(Self.ok))
        let pending = h.postLater()
        await h.clock.waitForSleepers(1)
        #expect(h.clock.pendingDelays == [.milliseconds(100)])
        h.clock.advance(by: .milliseconds(100))
        #expect(try await pending.value?.status == 200)
        #expect(h.fakes[1].requestCount == 1)
        slow.open()
        try await h.stop()
    }

    // MARK: An answer that ends before its first event

    static let twoEvents = [
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"one "}]},"index":0}]}"#,
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"two"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}"#,
    ]
    static let streamChat = #"{"model":"flash","stream":true,"messages":[{"role":"user","content":"hello"}]}"#

    @Test func aStreamThatEndsCleanlyBeforeItsFirstEventFailsOver() async throws {
        let h = try await Harness.start(2)
        h.fakes[0].enqueue(.sse([]))  // 200, text/event-stream, and not one event
        h.fakes[1].enqueue(.sse(Self.twoEvents))
        let response = try await h.post(Self.streamChat)
        #expect(response?.status == 200)
        let text = response?.text ?? ""
        #expect(text.contains("one ") && text.contains("two") && text.contains("[DONE]"))
        #expect(!text.contains("error"))
        #expect(h.fakes[0].requestCount == 1)
        #expect(h.fakes[1].requestCount == 1)
        let r0 = try await h.routes()?["routes"]?[0]
        #expect(r0?["recent_errors"]?[0]?["outcome"]?.stringValue == "invalid")
        try await h.stop()
    }

    @Test func aStreamCutOffBeforeItsFirstEventFailsOver() async throws {
        let h = try await Harness.start(2)
        var cut = FakeReply.sse(Self.twoEvents)
        cut.dropAfterChunks = 0  // the head, then the connection drops
        h.fakes[0].enqueue(cut)
        h.fakes[1].enqueue(.sse(Self.twoEvents))
        let response = try await h.post(Self.streamChat)
        #expect(response?.status == 200)
        #expect(response?.text.contains("two") == true)
        #expect(h.fakes[1].requestCount == 1)
        try await h.stop()
    }

    @Test func aNativeStreamThatEndsBeforeItsFirstEventFailsOver() async throws {
        let h = try await Harness.start(2)
        h.fakes[0].enqueue(.sse([]))
        h.fakes[1].enqueue(.sse(Self.twoEvents))
        let response = try await h.post(
            #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#, path: "/v1beta/models/flash:streamGenerateContent?alt=sse")
        #expect(response?.status == 200)
        #expect(response?.text.contains("\"two\"") == true)
        #expect(h.fakes[1].requestCount == 1)
        try await h.stop()
    }

    @Test func anEmptyAnswerFailsOverToo() async throws {
        let h = try await Harness.start(2)
        h.fakes[0].enqueue(.json(""))
        h.fakes[1].enqueue(.json(Self.ok))
        let response = try await h.post()
        #expect(response?.status == 200)
        #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "fine")
        try await h.stop()
    }

    @Test func anEmptyStreamOnTheOnlyRouteIsRetriedThere() async throws {
        // No backoff, so the retry needs no clock and a missing retry shows as a failed request.
        let h = try await Harness.start(
            1, retry: RetryPolicy(maxAttempts: 4, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(120)))
        h.fakes[0].enqueue(.sse([]))
        h.fakes[0].enqueue(.sse(Self.twoEvents))
        let response = try await h.post(Self.streamChat)
        #expect(response?.status == 200)
        #expect(response?.text.contains("two") == true)
        #expect(h.fakes[0].requestCount == 2)
        try await h.stop()
    }

    // MARK: Per-day quotas

    @Test func aPerDayQuotaOnEveryRouteIsTriedOnceEachAndKeepsThemOutUntilTheReset() async throws {
        // No backoff, so a schedule that wrongly comes back shows as extra calls, not as a wait.
        let h = try await Harness.start(
            2, retry: RetryPolicy(maxAttempts: 4, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(120)))
        for fake in h.fakes {
            fake.enqueue(.googleError(status: 429, message: "quota", googleStatus: "RESOURCE_EXHAUSTED", details: Self.perDay))
            fake.enqueue(.googleError(status: 429, message: "quota", googleStatus: "RESOURCE_EXHAUSTED", details: Self.perDay))
        }
        func calls() -> Int { h.fakes.reduce(0) { $0 + $1.requestCount } }
        let first = try await h.post()
        #expect(first?.status == 429)
        #expect(calls() == 2)
        #expect(h.clock.now() == .zero)  // nobody waited

        // The test's wall clock stands at 2027-01-15T08:00:00Z, midnight in Pacific time: the
        // quota resets 24 hours later. Until then no call goes to either route.
        for fake in h.fakes { fake.clearReplies() }
        let second = try await h.post()
        #expect(second?.status == 429)
        #expect(second?.json?["error"]?["message"]?.stringValue?.contains("per-day quota") == true)
        #expect(calls() == 2)
        let reported = try await h.routes()?["routes"]?[0]?["daily_quota_reset_at_ms"]?.intValue
        #expect(reported == 1_800_000_000_000 + 86_400_000)

        h.clock.advance(by: .seconds(86_400) - .milliseconds(1))
        #expect(try await h.post()?.status == 429)
        #expect(calls() == 2)

        h.clock.advance(by: .milliseconds(1))
        h.fakes[0].enqueue(.json(Self.ok))
        #expect(try await h.post()?.status == 200)
        #expect(calls() == 3)
        try await h.stop()
    }
}
