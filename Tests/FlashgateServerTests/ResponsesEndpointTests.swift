import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// `/v1/responses` through the whole gateway: real libcurl to FakeGemini, the real LMDB store.
@Suite struct ResponsesEndpointTests {
    static let keyA = "fg-responses-team-a-0123456789"
    static let keyB = "fg-responses-team-b-0123456789"
    static let broke = "fg-responses-broke-0123456789"
    static let callReply =
        #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"UkVBTC1TSUc="}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#
    static let tools =
        #"[{"type":"function","name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]"#

    /// A signature store that keeps nothing: only what the client replays can carry a signature.
    final class ForgetfulSignatures: SignatureStore {
        func save(team: String, route: String, signatures: [(toolCallID: String, signature: String)]) {}
        func lookup(team: String, toolCallID: String) -> StoredSignature? { nil }
    }

    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory?
        let client: RawHTTPClient

        static func start(
            signatures: (any SignatureStore)? = nil, configure: (inout FlashgateConfig) -> Void = { _ in }
        ) async throws -> Harness {
            let fake = try await FakeGemini.start()
            var config = FlashgateConfig(routes: [
                RouteConfig(
                    name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
            ])
            var poor = TeamConfig(id: "poor")
            poor.budgets = [BudgetConfig(period: .day, limit: MicroUSD(1))]
            config.teams = [TeamConfig(id: "a"), TeamConfig(id: "b"), poor]
            config.keys = [
                KeyConfig(name: "a", team: "a", hashHex: VirtualKey.hashHex(keyA)),
                KeyConfig(name: "b", team: "b", hashHex: VirtualKey.hashHex(keyB)),
                KeyConfig(name: "poor", team: "poor", hashHex: VirtualKey.hashHex(broke)),
            ]
            config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            configure(&config)
            let curl = try CurlTransport()
            let directory = signatures == nil ? try TempDirectory() : nil
            let gateway = try await TestGateway.start(
                config: config, http: curl, signatures: signatures ?? MemorySignatureStore(),
                storeDirectory: directory?.path, priceMadeUpModels: false)
            return Harness(
                fake: fake, curl: curl, gateway: gateway, directory: directory,
                client: try await RawHTTPClient.connect(port: gateway.port))
        }

        func post(
            _ body: String, key: String = keyA, headers: [(String, String)] = []
        ) async throws -> RawHTTPClient.Response? {
            try await client.request(
                "POST", "/v1/responses", body: body, headers: [("authorization", "Bearer \(key)")] + headers)
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
            directory?.remove()
        }
    }

    /// `store: false` with the sealed reasoning replayed: the signature reaches Gemini on the next
    /// turn though Flashgate kept nothing; another team cannot replay it.
    @Test func statelessToolTurnCarriesTheSignatureInEncryptedContent() async throws {
        let h = try await Harness.start(signatures: ForgetfulSignatures())
        h.fake.enqueue(.json(Self.callReply))
        let first = try await h.post(
            #"{"model":"gemini-3.5-flash","store":false,"include":["reasoning.encrypted_content"],"input":"find x","tools":\#(Self.tools)}"#
        )
        #expect(first?.status == 200)
        let output = first?.json?["output"]?.arrayValue ?? []
        #expect(output.map { $0["type"]?.stringValue } == ["reasoning", "function_call"])
        let sealed = try #require(output[0]["encrypted_content"]?.stringValue)
        #expect(!sealed.contains("UkVBTC1TSUc="))
        let callID = try #require(output[1]["call_id"]?.stringValue)

        // The client replays its items, dropping ids as Codex does.
        let replay = #"""
            {"model":"gemini-3.5-flash","store":false,"tools":\#(Self.tools),"input":[{"role":"user","content":"find x"},
             {"type":"reasoning","summary":[],"encrypted_content":"\#(sealed)"},
             {"type":"function_call","call_id":"\#(callID)","name":"lookup","arguments":"{\"q\":\"x\"}"},
             {"type":"function_call_output","call_id":"\#(callID)","output":"X"}]}
            """#
        let second = try await h.post(replay)
        #expect(second?.status == 200)
        let sent = try #require(h.fake.received.last?.bodyJSON)
        #expect(sent["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue == "UkVBTC1TSUc=")

        let stolen = try await h.post(replay, key: Self.keyB)
        #expect(stolen?.status == 400)
        #expect(stolen?.json?["error"]?["param"]?.stringValue == "input[1].encrypted_content")
        #expect(h.fake.requestCount == 2)
        // Nothing was stored.
        let id = try #require(first?.json?["id"]?.stringValue)
        #expect(
            try await h.client.request(
                "GET", "/v1/responses/\(id)", headers: [("authorization", "Bearer \(Self.keyA)")])?.status == 404)
        try await h.stop()
    }

    /// `store: true`: the response is kept for its team only; `previous_response_id` continues it
    /// with the history (and the signature) Flashgate kept; DELETE removes it.
    /// Reading and deleting a stored response are counted under the caller's team, not `none`.
    @Test func storedResponseCallsAreCountedUnderTheirTeam() async throws {
        let h = try await Harness.start()
        let answer = try await h.post(#"{"model":"gemini-3.5-flash","input":"count me"}"#)
        let id = try #require(answer?.json?["id"]?.stringValue)
        let a = [("authorization", "Bearer \(Self.keyA)")]
        #expect(try await h.client.request("GET", "/v1/responses/\(id)", headers: a)?.status == 200)
        #expect(try await h.client.request("DELETE", "/v1/responses/\(id)", headers: a)?.status == 200)
        let metrics = try await h.client.request("GET", "/metrics")?.text ?? ""
        let stored = metrics.split(separator: "\n").filter {
            $0.hasPrefix("flashgate_requests_total{") && $0.contains(#"endpoint="responses""#) && $0.contains(#"status="200""#)
        }
        #expect(!stored.isEmpty, "\(metrics.prefix(400))")
        #expect(stored.allSatisfy { $0.contains(#"team="a""#) }, "\(stored)")
        try await h.stop()
    }

    @Test func storedConversationsBelongToTheirTeam() async throws {
        let h = try await Harness.start()
        h.fake.enqueue(.json(Self.callReply))
        let first = try await h.post(#"{"model":"gemini-3.5-flash","input":"find x","tools":\#(Self.tools)}"#)
        let id = try #require(first?.json?["id"]?.stringValue)
        let callID = try #require(first?.json?["output"]?[1]?["call_id"]?.stringValue)
        let a = [("authorization", "Bearer \(Self.keyA)")]
        let b = [("authorization", "Bearer \(Self.keyB)")]
        let got = try await h.client.request("GET", "/v1/responses/\(id)", headers: a)
        #expect(got?.status == 200)
        #expect(got?.json?["output"] == first?.json?["output"])
        let other = try await h.client.request("GET", "/v1/responses/\(id)", headers: b)
        #expect(other?.status == 404)
        #expect(other?.json?["error"]?["type"]?.stringValue == "not_found_error")
        #expect(try await h.client.request("DELETE", "/v1/responses/\(id)", headers: b)?.status == 404)

        let next =
            #"{"model":"gemini-3.5-flash","previous_response_id":"\#(id)","tools":\#(Self.tools),"input":[{"type":"function_call_output","call_id":"\#(callID)","output":"X"}]}"#
        #expect(try await h.post(next, key: Self.keyB)?.status == 404)
        let continued = try await h.post(next)
        #expect(continued?.status == 200)
        let sent = try #require(h.fake.received.last?.bodyJSON)
        #expect(sent["contents"]?[0]?["parts"]?[0]?["text"]?.stringValue == "find x")
        #expect(sent["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue == "UkVBTC1TSUc=")
        #expect(sent["contents"]?[2]?["parts"]?[0]?["functionResponse"]?["name"]?.stringValue == "lookup")

        let deleted = try await h.client.request("DELETE", "/v1/responses/\(id)", headers: a)
        #expect(deleted?.json?["deleted"]?.boolValue == true)
        #expect(try await h.client.request("GET", "/v1/responses/\(id)", headers: a)?.status == 404)
        try await h.stop()
    }

    /// After a failover the reasoning is sealed under the route that answered, not the primary:
    /// replayed to the primary it goes as Gemini's stand-in (the primary would refuse another
    /// route's signature as "Corrupted"), replayed to the route that issued it it goes as issued.
    @Test func aSignatureServedAfterAFailoverIsSealedUnderTheRouteThatIssuedIt() async throws {
        let primary = try await FakeGemini.start()
        let backup = try await FakeGemini.start()
        let curl = try CurlTransport()
        var config = FlashgateConfig(
            routes: [
                RouteConfig(name: "r1", kind: .gemini, baseURL: primary.baseURL, apiKey: Secret("k"), passthrough: false),
                RouteConfig(name: "r2", kind: .gemini, baseURL: backup.baseURL, apiKey: Secret("k"), passthrough: false),
            ],
            models: [
                ModelConfig(
                    id: "m",
                    routes: [
                        ModelRoute(route: "r1", upstreamModel: "gemini-3.5-flash"),
                        ModelRoute(route: "r2", upstreamModel: "gemini-3.5-flash"),
                    ]),
                ModelConfig(id: "only-r2", route: "r2", upstreamModel: "gemini-3.5-flash"),
            ])
        config.retry = RetryPolicy(maxAttempts: 2, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        primary.enqueue(.json(#"{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}"#, status: 503))
        backup.enqueue(.json(Self.callReply))
        for stream in [false, true] {
            if stream {
                primary.enqueue(.json(#"{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}"#, status: 503))
                backup.enqueue(.sse([Self.callReply]))
            }
            let first = try await client.request(
                "POST", "/v1/responses",
                body:
                    #"{"model":"m","store":false,"stream":\#(stream),"include":["reasoning.encrypted_content"],"input":"find x","tools":\#(Self.tools)}"#,
                headers: [("cache-control", "no-store")])
            #expect(first?.status == 200)
            let sealed: String
            if stream {
                let done = try #require(
                    first?.text.split(separator: "\n").first { $0.contains(#""type":"response.completed""#) })
                let event = try JSONParser.parse(Array(done.dropFirst("data: ".count).utf8))
                sealed = try #require(event["response"]?["output"]?[0]?["encrypted_content"]?.stringValue)
            } else {
                sealed = try #require(first?.json?["output"]?[0]?["encrypted_content"]?.stringValue)
            }
            for (model, fake, expected) in [
                ("m", primary, SignatureOrigins.skipSignature), ("only-r2", backup, "UkVBTC1TSUc="),
            ] {
                fake.enqueue(.json(Self.callReply))
                let replay = try await client.request(
                    "POST", "/v1/responses",
                    body:
                        #"{"model":"\#(model)","store":false,"input":[{"role":"user","content":"find x"},{"type":"reasoning","summary":[],"encrypted_content":"\#(sealed)"},{"type":"function_call","call_id":"c","name":"lookup","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"X"}]}"#,
                    headers: [("cache-control", "no-store")])
                #expect(replay?.status == 200)
                #expect(
                    fake.received.last?.bodyJSON?["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue
                        == expected, "stream \(stream), model \(model)")
            }
        }
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await primary.shutdown()
        try await backup.shutdown()
    }

    /// A stored response is the final response object; `?stream=true` (the SDK's
    /// `retrieve(id, stream=True)`) is refused rather than answered with JSON a stream reader
    /// cannot parse.
    @Test func aStoredResponseIsNotReplayedAsAStream() async throws {
        let h = try await Harness.start()
        let answer = try await h.post(#"{"model":"gemini-3.5-flash","input":"keep me"}"#)
        let id = try #require(answer?.json?["id"]?.stringValue)
        let a = [("authorization", "Bearer \(Self.keyA)")]
        let streamed = try await h.client.request("GET", "/v1/responses/\(id)?stream=true", headers: a)
        #expect(streamed?.status == 400)
        #expect(streamed?.json?["error"]?["param"]?.stringValue == "stream")
        #expect(try await h.client.request("GET", "/v1/responses/\(id)?stream=false", headers: a)?.status == 200)
        try await h.stop()
    }

    /// One team's stored responses have a byte limit of their own: past it a `store: true`
    /// request is refused before anything is spent, while other teams and `store: false` go on.
    /// Before, one team could fill the store and another's `store: true` answer said stored and
    /// was a 404 a moment later.
    @Test func aTeamPastItsStoredBytesIsRefusedAndOthersAreNot() async throws {
        let h = try await Harness.start { $0.responses.maxTeamBytes = 1 << 20 }
        // Two different inputs: the store keeps an item two responses share only once.
        for letter in ["y", "z"] {
            let big = String(repeating: letter, count: 600_000)
            let stored = try await h.post(
                #"{"model":"gemini-3.5-flash","input":"\#(big)"}"#, headers: [("cache-control", "no-store")])
            #expect(stored?.status == 200)
        }
        let refused = try await h.post(#"{"model":"gemini-3.5-flash","input":"one more"}"#)
        #expect(refused?.status == 400)
        #expect(refused?.json?["error"]?["param"]?.stringValue == "store")
        let unstored = try await h.post(#"{"model":"gemini-3.5-flash","input":"one more","store":false}"#)
        #expect(unstored?.status == 200)
        let other = try await h.post(#"{"model":"gemini-3.5-flash","input":"mine"}"#, key: Self.keyB)
        #expect(other?.status == 200)
        let id = try #require(other?.json?["id"]?.stringValue)
        #expect(
            try await h.client.request("GET", "/v1/responses/\(id)", headers: [("authorization", "Bearer \(Self.keyB)")])?
                .status == 200)
        try await h.stop()
    }

    /// A stored response and the sealing secret outlive a restart: the next Flashgate on the same
    /// store answers the id and opens the reasoning the last one sealed.
    @Test func storedResponsesAndSealsSurviveARestart() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let directory = try TempDirectory()
        let config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        fake.enqueue(.json(Self.callReply))
        let first = try await TestGateway.start(config: config, http: curl, storeDirectory: directory.path)
        var client = try await RawHTTPClient.connect(port: first.port)
        let answer = try await client.request(
            "POST", "/v1/responses",
            body:
                #"{"model":"gemini-3.5-flash","include":["reasoning.encrypted_content"],"input":"find x","tools":\#(Self.tools)}"#
        )
        let id = try #require(answer?.json?["id"]?.stringValue)
        let sealed = try #require(answer?.json?["output"]?[0]?["encrypted_content"]?.stringValue)
        await client.close()
        await first.stop()

        let second = try await TestGateway.start(config: config, http: curl, storeDirectory: directory.path)
        client = try await RawHTTPClient.connect(port: second.port)
        #expect(try await client.request("GET", "/v1/responses/\(id)")?.json?["id"]?.stringValue == id)
        let replay = try await client.request(
            "POST", "/v1/responses",
            body:
                #"{"model":"gemini-3.5-flash","store":false,"input":[{"role":"user","content":"find x"},{"type":"reasoning","summary":[],"encrypted_content":"\#(sealed)"},{"type":"function_call","call_id":"other-id","name":"lookup","arguments":"{}"},{"type":"function_call_output","call_id":"other-id","output":"X"}]}"#
        )
        #expect(replay?.status == 200)
        #expect(
            fake.received.last?.bodyJSON?["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue
                == "UkVBTC1TSUc=")
        await client.close()
        await second.stop()
        curl.shutdown()
        try await fake.shutdown()
        directory.remove()
    }

    /// A config reload (SIGHUP) keeps the stored responses and the seal: the new gateway answers
    /// the id and opens what the old one sealed.
    @Test func storedResponsesAndSealsSurviveAReload() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let directory = try TempDirectory()
        let config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        fake.enqueue(.json(Self.callReply))
        let gateway = try await TestGateway.start(
            config: config, http: curl, storeDirectory: directory.path, reload: { config })
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let answer = try await client.request(
            "POST", "/v1/responses",
            body:
                #"{"model":"gemini-3.5-flash","include":["reasoning.encrypted_content"],"input":"find x","tools":\#(Self.tools)}"#
        )
        let id = try #require(answer?.json?["id"]?.stringValue)
        let sealed = try #require(answer?.json?["output"]?[0]?["encrypted_content"]?.stringValue)
        try gateway.running.reload()
        #expect(try await client.request("GET", "/v1/responses/\(id)")?.status == 200)
        let replay = try await client.request(
            "POST", "/v1/responses",
            body:
                #"{"model":"gemini-3.5-flash","store":false,"input":[{"role":"user","content":"find x"},{"type":"reasoning","summary":[],"encrypted_content":"\#(sealed)"},{"type":"function_call","call_id":"other-id","name":"lookup","arguments":"{}"},{"type":"function_call_output","call_id":"other-id","output":"X"}]}"#
        )
        #expect(replay?.status == 200)
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
        directory.remove()
    }

    /// The same request twice is one upstream call; the chat request with the same Gemini body
    /// shares the entry.
    @Test func cacheHitsAndSharesWithChat() async throws {
        let h = try await Harness.start()
        let body = #"{"model":"gemini-3.5-flash","input":"cache me","max_output_tokens":20}"#
        let first = try await h.post(body)
        #expect(first?.header("x-flashgate-cache") == "miss")
        let second = try await h.post(
            #"{"model":"gemini-3.5-flash","input":"cache me","max_output_tokens":20,"stream":true}"#)
        #expect(second?.header("x-flashgate-cache") == "hit")
        #expect(second?.text.contains("event: response.completed") == true)
        #expect(second?.text.contains("Hello from FakeGemini") == true)
        let chat = try await h.client.request(
            "POST", "/v1/chat/completions",
            body: #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"cache me"}],"max_tokens":20}"#,
            headers: [("authorization", "Bearer \(Self.keyA)")])
        #expect(chat?.header("x-flashgate-cache") == "hit")
        #expect(h.fake.requestCount == 1)
        try await h.stop()
    }

    @Test func aSpentBudgetIsRefusedInOpenAIShape() async throws {
        let h = try await Harness.start()
        let refused = try await h.post(#"{"model":"gemini-3.5-flash","input":"hello"}"#, key: Self.broke)
        #expect(refused?.status == 429)
        #expect(refused?.json?["error"]?["type"]?.stringValue == "insufficient_quota")
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    /// The upstream breaks mid-stream: the client gets `response.failed`, never `response.completed`,
    /// and nothing is stored.
    @Test func aBrokenStreamEndsWithResponseFailed() async throws {
        let h = try await Harness.start()
        var reply = FakeReply.sse(FakeReply.defaultStreamEvents(model: "gemini-3.5-flash"))
        reply.dropAfterChunks = 1
        h.fake.enqueue(reply)
        let response = try await h.post(
            #"{"model":"gemini-3.5-flash","input":"break","stream":true}"#, headers: [("cache-control", "no-store")])
        let text = response?.text ?? ""
        #expect(response?.status == 200)
        #expect(text.contains("event: response.output_text.delta"))
        #expect(text.contains("event: response.failed"))
        #expect(!text.contains("response.completed"))
        try await h.stop()
    }

    @Test func badInputIsA400NamingTheField() async throws {
        let h = try await Harness.start()
        let response = try await h.post(
            #"{"model":"gemini-3.5-flash","input":"x","tools":[{"type":"computer_use_preview"}]}"#)
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "tools[0].type")
        #expect(response?.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        let get = try await h.client.request(
            "PUT", "/v1/responses/x", headers: [("authorization", "Bearer \(Self.keyA)")])
        #expect(get?.status == 405)
        try await h.stop()
    }
}
