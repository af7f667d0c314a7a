import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Synchronization
import Dispatch
import Testing

@testable import FlashgateServer

/// The response cache and single-flight coalescing, end to end: client → Flashgate → libcurl →
/// FakeGemini, with a real LMDB cache in a temp directory and a manual clock.
@Suite struct ResponseCacheTests {
    final class ManualClock: Sendable {
        let milliseconds = Atomic<Int64>(1_800_000_000_000)
        func advance(seconds: Int64) { milliseconds.add(seconds * 1000, ordering: .relaxed) }
        var now: @Sendable () -> Int64 { { self.milliseconds.load(ordering: .relaxed) } }
    }

    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory
        let clock: ManualClock

        static func start(
            directory: TempDirectory? = nil, clock: ManualClock = ManualClock(),
            accessLog: (@Sendable (String) -> Void)? = nil, beforeLedgerCommit: (@Sendable () -> Void)? = nil,
            configure: (inout FlashgateConfig) -> Void = { _ in }
        ) async throws -> Harness {
            let fake = try await FakeGemini.start()
            var config = FlashgateConfig(routes: [
                RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
            ])
            config.cache.ttl = .seconds(60)
            // One attempt: these tests show what a single upstream answer does; retries have their own suite.
            config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            configure(&config)
            let dir = try directory ?? TempDirectory()
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(
                config: config, http: curl, storeDirectory: dir.path, nowMilliseconds: clock.now, accessLog: accessLog,
                beforeLedgerCommit: beforeLedgerCommit)
            return Harness(fake: fake, curl: curl, gateway: gateway, directory: dir, clock: clock)
        }

        func client() async throws -> RawHTTPClient { try await RawHTTPClient.connect(port: gateway.port) }

        func stop(removeDirectory: Bool = true) async throws {
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
            if removeDirectory { directory.remove() }
        }
    }

    static let chat = #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"Q"}]}"#
    static let chatStream = #"{"model":"gemini-3.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Q"}]}"#
    /// The same upstream call as `chat`, written natively with its keys in another order.
    static let native = #"{"contents":[{"parts":[{"text":"Q"}],"role":"user"}]}"#

    static let answerJSON = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from FakeGemini"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#

    static func openAIText(_ response: RawHTTPClient.Response?) -> String {
        if response?.header("content-type") == "text/event-stream" {
            return (response?.text ?? "").components(separatedBy: "\n\n").compactMap { frame -> String? in
                guard frame.hasPrefix("data: {"), let json = try? JSONParser.parse(String(frame.dropFirst(6))) else { return nil }
                return json["choices"]?[0]?["delta"]?["content"]?.stringValue
            }.joined()
        }
        return response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
    }

    @Test func repeatedPromptIsServedFromTheCacheInEveryDialectAndMode() async throws {
        let h = try await Harness.start()
        let client = try await h.client()
        let first = try await client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(first?.header("x-flashgate-cache") == "miss")
        #expect(Self.openAIText(first) == "Hello from FakeGemini")
        // The cache write happens off the event loop; wait for it, then everything is a hit.
        h.gateway.running.gateway.cache?.flush()

        let again = try await client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(again?.header("x-flashgate-cache") == "hit")
        #expect(again?.header("x-flashgate-cost-usd") == "0.000000")
        #expect(again?.header("x-flashgate-cost-saved-usd").map { $0 != "0.000000" } == true)
        #expect(Self.openAIText(again) == "Hello from FakeGemini")
        #expect(again?.json?["usage"]?["total_tokens"]?.intValue == 8)  // usage as recorded

        let stream = try await client.request("POST", "/v1/chat/completions", body: Self.chatStream)
        #expect(stream?.header("x-flashgate-cache") == "hit")
        #expect(Self.openAIText(stream) == "Hello from FakeGemini")
        #expect(stream?.text.hasSuffix("data: [DONE]\n\n") == true)

        let nativeJSON = try await client.request("POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: Self.native)
        #expect(nativeJSON?.header("x-flashgate-cache") == "hit")
        #expect(nativeJSON?.json?["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue == "Hello from FakeGemini")

        let nativeSSE = try await client.request(
            "POST", "/v1/models/gemini-3.5-flash:streamGenerateContent?alt=sse", body: Self.native)
        #expect(nativeSSE?.header("x-flashgate-cache") == "hit")
        let sseText = (nativeSSE?.text ?? "").components(separatedBy: "\n\n").compactMap { frame -> String? in
            guard frame.hasPrefix("data: "), let json = try? JSONParser.parse(String(frame.dropFirst(6))) else { return nil }
            return json["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue
        }.joined()
        #expect(sseText == "Hello from FakeGemini")

        let nativeArray = try await client.request("POST", "/v1beta/models/gemini-3.5-flash:streamGenerateContent", body: Self.native)
        #expect(nativeArray?.json?.arrayValue?.isEmpty == false)

        #expect(h.fake.requestCount == 1)
        let stats = try #require(h.gateway.running.gateway.cache?.stats())
        #expect(stats.hits == 5)
        await client.close()
        try await h.stop()
    }

    @Test func cacheControlAndTTL() async throws {
        let h = try await Harness.start()
        let client = try await h.client()
        let bypass = try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: [("cache-control", "no-store")])
        #expect(bypass?.header("x-flashgate-cache") == "bypass")
        h.gateway.running.gateway.cache?.flush()
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat)?.header("x-flashgate-cache") == "miss")
        h.gateway.running.gateway.cache?.flush()
        let fresh = try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: [("cache-control", "no-cache")])
        #expect(fresh?.header("x-flashgate-cache") == "miss")
        #expect(h.fake.requestCount == 3)
        h.gateway.running.gateway.cache?.flush()
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat)?.header("x-flashgate-cache") == "hit")

        h.clock.advance(seconds: 61)  // past the 60 s TTL
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat)?.header("x-flashgate-cache") == "miss")
        #expect(h.fake.requestCount == 4)

        // A per-request TTL of 0 answers but stores nothing.
        let other = #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"other"}]}"#
        _ = try await client.request("POST", "/v1/chat/completions", body: other, headers: [("x-flashgate-cache-ttl", "0")])
        h.gateway.running.gateway.cache?.flush()
        #expect(try await client.request("POST", "/v1/chat/completions", body: other)?.header("x-flashgate-cache") == "miss")
        await client.close()
        try await h.stop()
    }

    @Test func failedTruncatedAndBlockedAnswersAreNotStored() async throws {
        let h = try await Harness.start()
        let client = try await h.client()
        h.fake.enqueue(.googleError(status: 500, message: "boom", googleStatus: "INTERNAL"))
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat)?.status == 500)
        var dropped = FakeReply.sse([#"{"candidates":[{"content":{"parts":[{"text":"part"}]}}]}"#, "{}"])
        dropped.dropAfterChunks = 1
        h.fake.enqueue(dropped)
        _ = try await client.request("POST", "/v1/chat/completions", body: Self.chatStream)
        h.fake.enqueue(.json(#"{"promptFeedback":{"blockReason":"SAFETY"}}"#))
        let blocked = try await client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(blocked?.json?["choices"]?[0]?["finish_reason"]?.stringValue == "content_filter")
        h.gateway.running.gateway.cache?.flush()
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat)?.header("x-flashgate-cache") == "miss")
        #expect(h.fake.requestCount == 4)
        await client.close()
        try await h.stop()
    }

    @Test func hundredConcurrentIdenticalRequestsMakeOneUpstreamCall() async throws {
        let h = try await Harness.start()
        let gate = FakeGate()
        var reply = FakeReply.json(Self.answerJSON)  // the leader (the first request) is not streamed
        reply.gate = gate
        h.fake.enqueue(reply)
        let clients = try await (0..<100).asyncMap { _ in try await h.client() }
        for (i, client) in clients.enumerated() {
            try await client.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: i % 2 == 0 ? Self.chat : Self.chatStream))
            if i == 0 { await h.fake.waitForRequests(1) }  // the plain (non-stream) request leads
        }
        // Every request is in: joined to the one flight (the leader counts too).
        while (h.gateway.running.gateway.flights.subscriberCountTotal) < 100 { await Task.yield() }
        gate.open()
        var outcomes: [String: Int] = [:]
        for client in clients {
            let response = await client.next()
            #expect(Self.openAIText(response) == "Hello from FakeGemini", "\(response?.status ?? 0) \(response?.text.prefix(300) ?? "no response")")
            outcomes[response?.header("x-flashgate-cache") ?? "none", default: 0] += 1
            await client.close()
        }
        #expect(h.fake.requestCount == 1)
        #expect(outcomes == ["miss": 1, "joined": 99])
        try await h.stop()
    }

    @Test func streamFollowersJoiningLateGetTheWholeStream() async throws {
        let h = try await Harness.start()
        let held = FakeGate()
        var reply = FakeReply.sse(FakeReply.defaultStreamEvents(model: "gemini-3.5-flash"))
        reply.chunkGates = [1: held]  // the first event goes out, then the stream waits
        h.fake.enqueue(reply)
        let leader = try await h.client()
        try await leader.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chatStream))
        await h.fake.waitForRequests(1)
        let follower = try await h.client()
        try await follower.send(
            RawHTTPClient.encode("POST", "/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse", body: Self.native))
        let follower2 = try await h.client()
        try await follower2.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chatStream))
        while h.gateway.running.gateway.flights.subscriberCountTotal < 3 { await Task.yield() }
        held.open()
        let a = await leader.next()
        let c = await follower2.next()
        #expect(Self.openAIText(a) == "Hello from FakeGemini")
        #expect(Self.openAIText(c) == "Hello from FakeGemini")
        #expect(c?.header("x-flashgate-cache") == "joined")
        #expect(h.fake.requestCount == 1)
        let native = await follower.next()
        #expect(native?.header("x-flashgate-cache") == "joined")
        #expect(native?.text.contains(" FakeGemini") == true)
        for client in [leader, follower, follower2] { await client.close() }
        try await h.stop()
    }

    /// A stream the upstream ends cleanly before any finish reason is cut off, for every client
    /// of the flight: the streaming leader gets its error event, and a non-stream follower that
    /// joined it a 502, not a 200 with `finish_reason: stop` over half an answer.
    @Test func aStreamCutOffBeforeItsFinishFailsEveryFollower() async throws {
        let h = try await Harness.start()
        let held = FakeGate()
        let events = [
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"index":0}]}"#,
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":" from"}]},"index":0}]}"#,
        ]
        var reply = FakeReply.sse(events)
        reply.chunkGates = [1: held]
        h.fake.enqueue(reply)
        let leader = try await h.client()
        try await leader.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chatStream))
        await h.fake.waitForRequests(1)
        let follower = try await h.client()
        try await follower.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
        let native = try await h.client()
        try await native.send(
            RawHTTPClient.encode("POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: Self.native))
        while h.gateway.running.gateway.flights.subscriberCountTotal < 3 { await Task.yield() }
        held.open()
        let led = await leader.next()
        #expect(led?.text.contains("ended before it finished") == true, "\(led?.text ?? "")")
        #expect(led?.text.contains("[DONE]") == false)
        let joined = await follower.next()
        #expect(joined?.header("x-flashgate-cache") == "joined")
        #expect(joined?.status == 502, "\(joined?.text ?? "")")
        #expect(joined?.json?["error"]?["message"]?.stringValue?.contains("ended before it finished") == true)
        let nativeAnswer = await native.next()
        #expect(nativeAnswer?.status == 502, "\(nativeAnswer?.text ?? "")")
        #expect(h.fake.requestCount == 1)
        for client in [leader, follower, native] { await client.close() }
        try await h.stop()
    }

    @Test func leaderFailureReachesEveryFollower() async throws {
        let h = try await Harness.start()
        let gate = FakeGate()
        var reply = FakeReply.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE")
        reply.gate = gate
        h.fake.enqueue(reply)
        let clients = try await (0..<5).asyncMap { _ in try await h.client() }
        for client in clients { try await client.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat)) }
        await h.fake.waitForRequests(1)
        while h.gateway.running.gateway.flights.subscriberCountTotal < 5 { await Task.yield() }
        gate.open()
        for client in clients {
            let response = await client.next()
            #expect(response?.status == 503)
            #expect(response?.json?["error"]?["message"]?.stringValue == "overloaded")
            await client.close()
        }
        #expect(h.fake.requestCount == 1)
        try await h.stop()
    }

    @Test func aFollowerLeavingDoesNotCancelTheLeaderButTheLastOneDoes() async throws {
        let h = try await Harness.start()
        let gate = FakeGate()
        var reply = FakeReply.json(Self.answerJSON)
        reply.gate = gate
        h.fake.enqueue(reply)
        let leader = try await h.client()
        let follower = try await h.client()
        try await leader.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
        await h.fake.waitForRequests(1)
        try await follower.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
        while h.gateway.running.gateway.flights.subscriberCountTotal < 2 { await Task.yield() }
        await leader.close()  // the leader's own client goes away; the follower still waits
        gate.open()
        let answer = await follower.next()
        #expect(Self.openAIText(answer) == "Hello from FakeGemini")
        await follower.close()

        // Now everyone leaves before the answer: the upstream transfer is aborted.
        let other = #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"abandon"}]}"#
        let held = FakeGate()
        var slow = FakeReply.json(#"{"candidates":[]}"#)
        slow.gate = held
        h.fake.enqueue(slow)
        let lonely = try await h.client()
        try await lonely.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: other))
        await h.fake.waitForRequests(2)
        let closedBefore = h.fake.closedConnectionCount
        await lonely.close()
        await h.fake.waitForClosedConnections(closedBefore + 1)
        held.open()
        try await h.stop()
    }

    /// Holds the ledger's commits while on: the writer thread waits in `pass` until released.
    final class CommitStall: Sendable {
        private let state = Mutex((on: false, held: false))
        private let gate = DispatchSemaphore(value: 0)

        func hold() { state.withLock { $0.on = true } }

        /// The writer thread, before each commit.
        func pass() {
            let wait = state.withLock { state -> Bool in
                guard state.on else { return false }
                state.held = true
                return true
            }
            if wait { gate.wait() }
        }

        var isHolding: Bool { state.withLock { $0.held } }

        func release() {
            state.withLock { $0.on = false }
            gate.signal()
        }
    }

    /// A leader whose client leaves while its reservation is still being recorded, with followers
    /// already waiting on its call: they get the answer, from one upstream call. The leader's task
    /// was cancelled by its client leaving before the call began, and it ran the call in that
    /// task anyway, so every follower got 503 "the call was cancelled".
    @Test func aLeaderLeavingBeforeItsCallBeginsStillServesItsFollowers() async throws {
        let stall = CommitStall()
        let h = try await Harness.start(beforeLedgerCommit: { stall.pass() }) { config in
            config.ledger.durability = .perRequest
        }
        stall.hold()
        let leader = try await h.client()
        try await leader.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
        while !stall.isHolding { await Task.yield() }  // its reservation's commit waits
        var followers: [RawHTTPClient] = []
        for _ in 0..<3 {
            let follower = try await h.client()
            try await follower.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
            followers.append(follower)
        }
        while h.gateway.running.gateway.flights.subscriberCountTotal < 3 { await Task.yield() }
        await leader.close()
        while h.gateway.running.server.connections.openConnections > 3 { await Task.yield() }
        stall.release()
        for follower in followers {
            let answer = await follower.next()
            #expect(answer?.status == 200)
            #expect(Self.openAIText(answer) == "Hello from FakeGemini")
            await follower.close()
        }
        #expect(h.fake.requestCount == 1)
        try await h.stop()
    }

    /// When everyone on a call has left and it was cancelled, an identical request that arrives
    /// before the cancelled call has wound down makes a call of its own. It had joined the dying
    /// flight and got its cancellation as a 503.
    @Test func aCallEveryoneLeftIsNotJoined() async throws {
        let h = try await Harness.start()
        let held = FakeGate()
        var slow = FakeReply.json(Self.answerJSON)
        slow.gate = held
        h.fake.enqueue(slow)
        h.fake.enqueue(.json(Self.answerJSON))
        let lonely = try await h.client()
        try await lonely.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat))
        await h.fake.waitForRequests(1)
        let flight = try #require(h.gateway.running.gateway.flights.all.first)
        await lonely.close()
        while !flight.isAbandoned { await Task.yield() }
        // The abandoned call is still winding down (its upstream answer held): a newcomer leads anew.
        let newcomer = try await h.client()
        let answer = try await newcomer.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(answer?.status == 200)
        #expect(Self.openAIText(answer) == "Hello from FakeGemini")
        #expect(flight.subscribeIfLive() == nil, "no one joins a call everyone left")
        held.open()
        await newcomer.close()
        try await h.stop()
    }

    /// Under a shared cache scope an answer belongs to no team: it is filed under "", which
    /// `flashgate cache purge --team ""` selects. It had been filed under the team that made it,
    /// so the shared-scope purge found nothing and that team's purge deleted an answer every
    /// team used.
    @Test func aSharedScopesAnswersAreFiledUnderNoTeam() async throws {
        let h = try await Harness.start(configure: { $0.cache.scope = .shared })
        let client = try await h.client()
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat)?.status == 200)
        let cache = try #require(h.gateway.running.gateway.cache)
        #expect(try cache.purge(team: Caller.defaultTeam, model: nil, olderThanMs: nil) == 0)
        #expect(try cache.purge(team: "", model: nil, olderThanMs: nil) == 1)
        await client.close()
        try await h.stop()
    }

    /// A TTL header past what an `Int` holds is past ten years: taken as ten years. It had
    /// failed to parse and been dropped, so the configured TTL applied instead.
    @Test func aHugeTTLHeaderIsTenYears() {
        #expect(CacheRules.seconds("99999999999999999999") == Int.max)
        #expect(CacheRules.seconds("315360000") == 315_360_000)
        for refused in ["", "-1", "1.5", "12s", " 5"] { #expect(CacheRules.seconds(refused) == nil, "\(refused)") }
    }

    @Test func entriesSurviveARestart() async throws {
        let directory = try TempDirectory()
        let first = try await Harness.start(directory: directory)
        let client = try await first.client()
        _ = try await client.request("POST", "/v1/chat/completions", body: Self.chat)
        await client.close()
        try await first.stop(removeDirectory: false)

        let second = try await Harness.start(directory: directory)
        let again = try await second.client()
        let response = try await again.request("POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: Self.native)
        #expect(response?.header("x-flashgate-cache") == "hit")
        #expect(second.fake.requestCount == 0)
        await again.close()
        try await second.stop()
    }

    @Test func aDamagedCacheFileMeansNoCacheNotAnOutage() async throws {
        let directory = try TempDirectory()
        try FileManager.default.createDirectory(atPath: directory.path + "/cache", withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 64 * 1024).write(to: URL(fileURLWithPath: directory.path + "/cache/data.mdb"))
        let h = try await Harness.start(directory: directory)
        #expect(h.gateway.running.gateway.cache == nil)
        let client = try await h.client()
        let first = try await client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(first?.status == 200)
        #expect(first?.header("x-flashgate-cache") == "bypass")
        await client.close()
        try await h.stop()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
