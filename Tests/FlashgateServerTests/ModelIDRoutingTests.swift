import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// A model id a client names can never rewrite an upstream URL: on a passthrough route every
/// entry point refuses a malformed id with a 400 in the caller's dialect before anything goes
/// upstream, and every URL a route builds has exactly the path its template says.
@Suite struct ModelIDRoutingTests {
    /// Flashgate with one AI Studio passthrough route in front of a FakeGemini.
    struct Harness {
        let fake: FakeGemini
        let gateway: TestGateway
        let client: RawHTTPClient
        let curl: CurlTransport

        static func start() async throws -> Harness {
            let fake = try await FakeGemini.start()
            let config = FlashgateConfig(routes: [
                RouteConfig(
                    name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("operator-key"),
                    passthrough: true)
            ])
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(config: config, http: curl, clock: ManualRetryClock())
            return Harness(
                fake: fake, gateway: gateway, client: try await RawHTTPClient.connect(port: gateway.port), curl: curl)
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
        }
    }

    static let smuggled = [
        "gemini-2.5-flash/../gemini-2.5-pro:generateContent#",
        "x/../../cachedContents#",
        "gemini-2.5-flash?alt=json",
        "gemini-2.5-flash%2F..%2Fgemini-2.5-pro",
        "models/../cachedContents",
        "..",
        "Gemini-2.5-Flash",
        "gemini 2.5 flash",
        "tunedModels/x/../../cachedContents",
        "",
    ]

    @Test func openAIChatRefusesASmuggledModelIdWithoutCallingUpstream() async throws {
        let h = try await Harness.start()
        for model in Self.smuggled {
            let body = JSONWriter.string(["model": .string(model), "messages": [["role": "user", "content": "hi"]]])
            let response = try await h.client.request("POST", "/v1/chat/completions", body: body)
            #expect(response?.status == 400, "\(model)")
            #expect(response?.json?["error"]?["param"]?.stringValue == "model", "\(model)")
            #expect(response?.json?["error"]?["type"]?.stringValue == "invalid_request_error", "\(model)")
        }
        let stream = #"{"model":"x/../../cachedContents#","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        #expect(try await h.client.request("POST", "/v1/chat/completions", body: stream)?.status == 400)
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    @Test func theErrorSaysWhatIsWrong() async throws {
        let h = try await Harness.start()
        let body =
            #"{"model":"gemini-2.5-flash/../gemini-2.5-pro:generateContent#","messages":[{"role":"user","content":"hi"}]}"#
        let message = try await h.client.request("POST", "/v1/chat/completions", body: body)?.json?["error"]?[
            "message"]?.stringValue
        #expect(message?.contains("'/'") == true)
        #expect(message?.contains("gemini-2.5-flash/../gemini-2.5-pro") == true)
        try await h.stop()
    }

    @Test func embeddingsRefuseASmuggledModelId() async throws {
        let h = try await Harness.start()
        let response = try await h.client.request(
            "POST", "/v1/embeddings", body: #"{"model":"x/../../cachedContents#","input":"hi"}"#)
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "model")
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    @Test func everyNativeMethodRefusesASmuggledPath() async throws {
        let h = try await Harness.start()
        let models = ["x/../../cachedContents", "gemini-2.5-flash%2F..%2Fgemini-2.5-pro", "Gemini-2.5-Flash", "a/b"]
        let methods = ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"]
        for model in models {
            for method in methods {
                for version in ["v1beta", "v1"] {
                    let response = try await h.client.request(
                        "POST", "/\(version)/models/\(model):\(method)",
                        body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#)
                    #expect(response?.status == 400, "\(version) \(model) \(method)")
                    #expect(response?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
                }
            }
        }
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    @Test func theModelsEndpointRefusesAMalformedIdAndListsOnlyValidOnes() async throws {
        let h = try await Harness.start()
        let response = try await h.client.request("GET", "/v1/models/Gemini%2F..")
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "model")
        #expect(h.fake.requestCount == 0)
        h.fake.enqueue(.json(#"{"models":[{"name":"models/gemini-2.5-flash"},{"name":"models/../cachedContents"}]}"#))
        let list = try await h.client.request("GET", "/v1/models")?.json?["data"]?.arrayValue ?? []
        #expect(list.compactMap { $0["id"]?.stringValue } == ["gemini-2.5-flash"])
        try await h.stop()
    }

    @Test func validIdsReachTheExpectedPath() async throws {
        let h = try await Harness.start()
        let cases: [(model: String, path: String)] = [
            ("gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:generateContent"),
            ("models/gemini-3.1-pro-preview", "/v1beta/models/gemini-3.1-pro-preview:generateContent"),
            ("gemini-2.5-flash-preview-09-2025", "/v1beta/models/gemini-2.5-flash-preview-09-2025:generateContent"),
            ("tunedModels/my-model-u3b7m", "/v1beta/tunedModels/my-model-u3b7m:generateContent"),
        ]
        for (model, path) in cases {
            let body = JSONWriter.string(["model": .string(model), "messages": [["role": "user", "content": "hi"]]])
            let response = try await h.client.request(
                "POST", "/v1/chat/completions", body: body, headers: [("cache-control", "no-store")])
            #expect(response?.status == 200, "\(model)")
            #expect(h.fake.received.last?.path == path)
            #expect(h.fake.received.last?.query == nil)
        }
        try await h.stop()
    }
}
