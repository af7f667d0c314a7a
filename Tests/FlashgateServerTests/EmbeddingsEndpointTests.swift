import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateServer

/// `/v1/embeddings` and the native embed methods: through real libcurl to FakeGemini, and
/// against the built-in mock route.
@Suite struct EmbeddingsUpstreamTests {
    typealias Harness = UpstreamPathTests.Harness

    @Test func embeddingsGoUpstreamAsOneBatchWithTheRouteKey() async throws {
        let h = try await Harness.start { config in
            config.models = [ModelConfig(id: "embed", route: "studio", upstreamModel: "gemini-embedding-001")]
        }
        let body = #"{"model":"embed","input":["first","second"],"dimensions":4,"encoding_format":"float","user":"u"}"#
        let response = try await h.client.request(
            "POST", "/v1/embeddings", body: body, headers: [("authorization", "Bearer client-key")])
        #expect(response?.status == 200)
        let sent = try #require(h.fake.received.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents")
        #expect(sent.query == nil)
        #expect(sent.header("x-goog-api-key") == "route-key")
        #expect(sent.header("authorization") == nil)
        #expect(
            sent.bodyText
                == #"{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"first"}]},"outputDimensionality":4},"#
                + #"{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"second"}]},"outputDimensionality":4}]}"#)
        #expect(
            response?.text
                == #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.125,-0.25,0.5,1.5e-3]},"#
                + #"{"object":"embedding","index":1,"embedding":[0.125,-0.25,0.5,1.5e-3]}],"model":"embed","#
                + #""usage":{"prompt_tokens":43,"total_tokens":43}}"#)
        try await h.stop()
    }

    @Test func base64AnswerDecodesToTheUpstreamFloats() async throws {
        let h = try await Harness.start()
        let response = try await h.client.request(
            "POST", "/v1/embeddings", body: #"{"model":"m","input":"hi","encoding_format":"base64"}"#)
        #expect(response?.status == 200)
        let encoded = try #require(response?.json?["data"]?[0]?["embedding"]?.stringValue)
        let data = try #require(Data(base64Encoded: encoded))
        #expect(Self.littleEndianFloats(Array(data)) == [0.125, -0.25, 0.5, 1.5e-3])
        #expect(h.fake.received.first?.bodyJSON?["requests"]?[0]?["outputDimensionality"] == nil)
        try await h.stop()
    }

    @Test func upstreamErrorsComeBackInTheOpenAIEnvelope() async throws {
        let h = try await Harness.start()
        h.fake.enqueue(.googleError(status: 429, message: "Quota exceeded", googleStatus: "RESOURCE_EXHAUSTED"))
        h.fake.enqueue(.googleError(status: 400, message: "bad dimensionality", googleStatus: "INVALID_ARGUMENT"))
        let limited = try await h.client.request("POST", "/v1/embeddings", body: #"{"model":"m","input":"x"}"#)
        #expect(limited?.status == 429)
        #expect(limited?.json?["error"]?["type"]?.stringValue == "rate_limit_error")
        #expect(limited?.json?["error"]?["message"]?.stringValue == "Quota exceeded")
        let invalid = try await h.client.request("POST", "/v1/embeddings", body: #"{"model":"m","input":"x"}"#)
        #expect(invalid?.status == 400)
        #expect(invalid?.json?["error"]?["message"]?.stringValue == "bad dimensionality")
        try await h.stop()
    }

    @Test func unreachableUpstreamIs502() async throws {
        let h = try await Harness.start { config in config.routes[0].baseURL = "http://127.0.0.1:1" }
        let response = try await h.client.request("POST", "/v1/embeddings", body: #"{"model":"m","input":"x"}"#)
        #expect(response?.status == 502)
        #expect(response?.json?["error"]?["code"]?.stringValue == "upstream_unreachable")
        try await h.stop()
    }

    @Test func nativeEmbedMethodsPassThroughAndAliasesAreRewritten() async throws {
        let h = try await Harness.start { config in
            config.models = [ModelConfig(id: "embed", route: "studio", upstreamModel: "gemini-embedding-001")]
        }
        let one = #"{"content":{"parts":[{"text":"x"}]},"taskType":"RETRIEVAL_QUERY","future":1.50}"#
        let single = try await h.client.request("POST", "/v1/models/gemini-embedding-001:embedContent", body: one)
        #expect(single?.status == 200)
        #expect(single?.json?["embedding"]?["values"]?.arrayValue?.count == 4)
        let batch = #"{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"x"}]}}]}"#
        let plain = try await h.client.request("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", body: batch)
        #expect(plain?.json?["embeddings"]?.arrayValue?.count == 1)
        let aliased = #"{"requests":[{"model":"models/embed","content":{"parts":[{"text":"y"}]},"title":"t"}]}"#
        let alias = try await h.client.request("POST", "/v1beta/models/embed:batchEmbedContents", body: aliased)
        #expect(alias?.status == 200)

        let sent = h.fake.received
        #expect(sent.map(\.path) == [
            "/v1beta/models/gemini-embedding-001:embedContent", "/v1beta/models/gemini-embedding-001:batchEmbedContents",
            "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        ])
        #expect(sent[0].bodyText == one)
        #expect(sent[1].bodyText == batch)
        #expect(
            sent[2].bodyText
                == #"{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"y"}]},"title":"t"}]}"#)
        try await h.stop()
    }
}

extension EmbeddingsUpstreamTests {
    static func littleEndianFloats(_ bytes: [UInt8]) -> [Float] {
        var floats: [Float] = []
        var index = 0
        while index + 4 <= bytes.count {
            var bits: UInt32 = 0
            for k in 0..<4 { bits |= UInt32(bytes[index + k]) << UInt32(8 * k) }
            floats.append(Float(bitPattern: bits))
            index += 4
        }
        return floats
    }
}

@Suite struct EmbeddingsMockRouteTests {
    @Test func openAIEmbeddingsFromTheMockModel() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request(
            "POST", "/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":["hello","world!"]}"#)
        #expect(response?.status == 200)
        let data = response?.json?["data"]?.arrayValue ?? []
        #expect(data.map { $0["index"]?.intValue } == [0, 1])
        let first = data.first?["embedding"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        #expect(first.count == 8)
        #expect(abs(first.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        #expect(response?.json?["model"]?.stringValue == "gemini-embedding-001")
        // No usage from the mock: the tokens charged, the strict reservation of each input's bytes
        // plus the "text" key, 8 per content and 4 per part: (5 + 16) + (6 + 16).
        #expect(response?.json?["usage"]?["prompt_tokens"]?.intValue == 43)

        let sized = try await client.request(
            "POST", "/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":"hello","dimensions":3}"#)
        #expect(sized?.json?["data"]?[0]?["embedding"]?.arrayValue?.count == 3)
        await client.close()
        await gateway.stop()
    }

    @Test func nativeEmbedUnderBothVersionsMatchesTheOpenAIVector() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let openAI = try await client.request("POST", "/v1/embeddings", body: #"{"model":"e","input":"same text"}"#)
        let expected = openAI?.json?["data"]?[0]?["embedding"]
        for version in ["v1beta", "v1"] {
            let single = try await client.request(
                "POST", "/\(version)/models/e:embedContent", body: #"{"content":{"parts":[{"text":"same text"}]}}"#)
            #expect(single?.status == 200)
            #expect(single?.json?["embedding"]?["values"] == expected)
            let batch = try await client.request(
                "POST", "/\(version)/models/e:batchEmbedContents",
                body: #"{"requests":[{"model":"models/e","content":{"parts":[{"text":"same text"}]},"outputDimensionality":2}]}"#)
            #expect(batch?.json?["embeddings"]?[0]?["values"]?.arrayValue?.count == 2)
        }
        let mismatch = try await client.request(
            "POST", "/v1beta/models/e:batchEmbedContents",
            body: #"{"requests":[{"model":"models/other","content":{"parts":[{"text":"x"}]}}]}"#)
        #expect(mismatch?.status == 400)
        #expect(mismatch?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        await client.close()
        await gateway.stop()
    }

    @Test func badInputAndUnknownModels() async throws {
        var config = TestGateway.mockConfig()
        config.routes[0].passthrough = false
        config.models = [ModelConfig(id: "known", route: "mock")]
        let gateway = try await TestGateway.start(config: config)
        let client = try await RawHTTPClient.connect(port: gateway.port)

        let tokens = try await client.request("POST", "/v1/embeddings", body: #"{"model":"known","input":[[1,2,3]]}"#)
        #expect(tokens?.status == 400)
        #expect(tokens?.json?["error"]?["param"]?.stringValue == "input")
        #expect(tokens?.json?["error"]?["message"]?.stringValue?.contains("token ids is not supported") == true)

        let format = try await client.request(
            "POST", "/v1/embeddings", body: #"{"model":"known","input":"x","encoding_format":"int8"}"#)
        #expect(format?.status == 400)
        #expect(format?.json?["error"]?["param"]?.stringValue == "encoding_format")

        let unknown = try await client.request("POST", "/v1/embeddings", body: #"{"model":"ghost","input":"x"}"#)
        #expect(unknown?.status == 404)
        #expect(unknown?.json?["error"]?["message"]?.stringValue?.contains("ghost") == true)

        let nativeUnknown = try await client.request("POST", "/v1beta/models/ghost:embedContent", body: "{}")
        #expect(nativeUnknown?.json?["error"]?["status"]?.stringValue == "NOT_FOUND")

        let wrongMethod = try await client.request("GET", "/v1/embeddings")
        #expect(wrongMethod?.status == 405)
        #expect(wrongMethod?.header("allow") == "POST")
        await client.close()
        await gateway.stop()
    }
}
