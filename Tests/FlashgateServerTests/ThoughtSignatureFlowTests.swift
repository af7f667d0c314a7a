import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// A Gemini 3 tool conversation through Flashgate where the client drops `extra_content`, as
/// most OpenAI clients do: the signature must still reach Gemini on the next turn, and only on
/// the route that issued it.
@Suite struct ThoughtSignatureFlowTests {
    static let callReply = #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"UkVBTC1TSUc="},{"functionCall":{"name":"lookup","args":{"q":"y"}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#

    func firstTurn(_ client: RawHTTPClient, model: String) async throws -> [JSONValue] {
        let body = #"{"model":"\#(model)","messages":[{"role":"user","content":"find x and y"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]}"#
        let response = try await client.request("POST", "/v1/chat/completions", body: body)
        #expect(response?.json?["choices"]?[0]?["finish_reason"]?.stringValue == "tool_calls")
        return response?.json?["choices"]?[0]?["message"]?["tool_calls"]?.arrayValue ?? []
    }

    func secondTurnBody(model: String, calls: [JSONValue]) -> String {
        // The client keeps ids, names and arguments but drops extra_content.
        let stripped: [JSONValue] = calls.map { call in
            ["id": call["id"]!, "type": "function", "function": call["function"]!]
        }
        let messages: JSONValue = [
            ["role": "user", "content": "find x and y"],
            ["role": "assistant", "content": .null, "tool_calls": .array(stripped)],
            ["role": "tool", "tool_call_id": calls[0]["id"]!, "content": "X"],
            ["role": "tool", "tool_call_id": calls[1]["id"]!, "content": "Y"],
        ]
        return JSONWriter.string(["model": .string(model), "messages": messages])
    }

    @Test func signatureIsKeptAndReattachedOnTheSameRoute() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)

        fake.enqueue(.json(Self.callReply))
        let calls = try await firstTurn(client, model: "gemini-3.5-flash")
        #expect(calls.count == 2)
        #expect(calls[0]["extra_content"]?["google"]?["thought_signature"]?.stringValue == "UkVBTC1TSUc=")
        #expect(calls[1]["extra_content"] == nil)
        #expect(calls[0]["id"] != calls[1]["id"])

        let second = try await client.request("POST", "/v1/chat/completions", body: secondTurnBody(model: "gemini-3.5-flash", calls: calls))
        #expect(second?.status == 200)
        let sent = try #require(fake.received.last?.bodyJSON)
        let modelParts = sent["contents"]?[1]?["parts"]?.arrayValue ?? []
        #expect(modelParts.count == 2)
        #expect(modelParts[0]["thoughtSignature"]?.stringValue == "UkVBTC1TSUc=")
        #expect(modelParts[1]["thoughtSignature"] == nil)
        #expect(sent["contents"]?[2]?["parts"]?.arrayValue?.count == 2)  // both tool results in one user turn

        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    @Test func anotherRouteGetsTheStandInSignature() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let signatures = MemorySignatureStore()
        let config = FlashgateConfig(
            routes: [
                RouteConfig(name: "first", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: false),
                RouteConfig(name: "second", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: false),
            ],
            models: [
                ModelConfig(id: "a", route: "first", upstreamModel: "gemini-3.5-flash"),
                ModelConfig(id: "b", route: "second", upstreamModel: "gemini-3.5-flash"),
            ])
        let gateway = try await TestGateway.start(config: config, http: curl, signatures: signatures)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        fake.enqueue(.json(Self.callReply))
        let calls = try await firstTurn(client, model: "a")
        #expect(signatures.count == 2)  // by tool-call id, and by the signature's hash (its route)
        _ = try await client.request("POST", "/v1/chat/completions", body: secondTurnBody(model: "b", calls: calls))
        let sent = try #require(fake.received.last?.bodyJSON)
        #expect(sent["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue == "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=")
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    /// Gemini binds a signature to the model that issued it as well as the route (gemini-wire.md
    /// §6): a conversation switched to another model on the same route (an agent's handoff) sends
    /// the stand-in; it had sent the signature, and Gemini refused it as corrupted.
    @Test func anotherModelOnTheSameRouteGetsTheStandInSignature() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let config = FlashgateConfig(
            routes: [
                RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: false)
            ],
            models: [
                ModelConfig(id: "fast", route: "studio", upstreamModel: "gemini-3.5-flash"),
                ModelConfig(id: "deep", route: "studio", upstreamModel: "gemini-3.1-pro"),
            ])
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        fake.enqueue(.json(Self.callReply))
        let calls = try await firstTurn(client, model: "fast")
        _ = try await client.request("POST", "/v1/chat/completions", body: secondTurnBody(model: "deep", calls: calls))
        #expect(
            fake.received.last?.bodyJSON?["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue
                == SignatureOrigins.skipSignature)
        _ = try await client.request("POST", "/v1/chat/completions", body: secondTurnBody(model: "fast", calls: calls))
        #expect(
            fake.received.last?.bodyJSON?["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue
                == "UkVBTC1TSUc=")
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    /// An origin kept before models were recorded (a route name alone) still matches its route.
    @Test func originsMatchRouteAndModel() {
        let origin = SignatureOrigins.origin(route: "studio", model: "gemini-3.5-flash")
        #expect(SignatureOrigins.matches(origin, route: "studio", model: "gemini-3.5-flash"))
        #expect(!SignatureOrigins.matches(origin, route: "studio", model: "gemini-3.1-pro"))
        #expect(!SignatureOrigins.matches(origin, route: "backup", model: "gemini-3.5-flash"))
        #expect(SignatureOrigins.matches("studio", route: "studio", model: "anything"))
        #expect(!SignatureOrigins.matches("studio", route: "backup", model: "anything"))
    }

    @Test func streamedToolCallsCarryAndKeepTheirSignatures() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let signatures = MemorySignatureStore()
        let config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        let gateway = try await TestGateway.start(config: config, http: curl, signatures: signatures)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        fake.enqueue(.sse([
            #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{}},"thoughtSignature":"U1RSRUFN"}]},"finishReason":"STOP"}]}"#
        ]))
        let body = #"{"model":"gemini-3.5-flash","stream":true,"messages":[{"role":"user","content":"go"}]}"#
        let response = try await client.request("POST", "/v1/chat/completions", body: body)
        let text = response?.text ?? ""
        #expect(text.contains(#""thought_signature":"U1RSRUFN""#))
        #expect(text.contains(#""finish_reason":"tool_calls""#))
        #expect(signatures.count == 2)  // by tool-call id, and by the signature's hash (its route)
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }
}
