import FlashgateCore
import Foundation
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// The edge and the endpoints, end to end over real sockets, against the built-in mock route.
@Suite struct EndpointTests {
    let chatBody = #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"hello big world"}]}"#

    @Test func healthReadyAndRequestID() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let health = try await client.request("GET", "/healthz")
        #expect(health?.status == 200)
        #expect(health?.header("x-request-id")?.isEmpty == false)
        let ready = try await client.request("GET", "/readyz", headers: [("x-request-id", "trace-42")])
        #expect(ready?.status == 200)
        #expect(ready?.header("x-request-id") == "trace-42")
        await client.close()
        await gateway.stop()
    }

    @Test func chatCompletionNonStream() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request("POST", "/v1/chat/completions", body: chatBody)
        #expect(response?.status == 200)
        let json = response?.json
        #expect(json?["choices"]?[0]?["message"]?["content"]?.stringValue == "hello big world")
        #expect(json?["choices"]?[0]?["finish_reason"]?.stringValue == "stop")
        #expect(json?["usage"]?["completion_tokens"]?.intValue == 3)
        #expect(json?["model"]?.stringValue == "gemini-3.5-flash")
        await client.close()
        await gateway.stop()
    }

    @Test func chatCompletionStreamOverUnixSocket() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var config = TestGateway.mockConfig()
        config.listen.host = nil
        config.listen.socketPath = dir.path + "/fg.sock"
        let gateway = try await TestGateway.start(config: config)
        let client = try await RawHTTPClient.connect(unixSocket: dir.path + "/fg.sock")
        let body = #"{"model":"gemini-3.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three four five"}]}"#
        let response = try await client.request("POST", "/v1/chat/completions", body: body)
        #expect(response?.status == 200)
        #expect(response?.header("content-type") == "text/event-stream")
        let events = response?.text.components(separatedBy: "\n\n").filter { !$0.isEmpty } ?? []
        #expect(events.last == "data: [DONE]")
        var text = ""
        var usage: JSONValue?
        for event in events.dropLast() {
            let json = try JSONParser.parse(String(event.dropFirst(6)))
            text += json["choices"]?[0]?["delta"]?["content"]?.stringValue ?? ""
            if let u = json["usage"] { usage = u }
        }
        #expect(text == "one two three four five")
        #expect(usage?["completion_tokens"]?.intValue == 5)
        await client.close()
        await gateway.stop()
        #expect(!FileManagerShim.exists(dir.path + "/fg.sock"))
    }

    @Test func nativeGenerateStreamAndCountUnderBothVersions() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = #"{"contents":[{"role":"user","parts":[{"text":"a b c"}]}],"someFutureField":{"x":1}}"#
        for version in ["v1beta", "v1"] {
            let generate = try await client.request("POST", "/\(version)/models/gemini-2.5-flash:generateContent", body: body)
            #expect(generate?.status == 200)
            #expect(generate?.json?["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue == "a b c")
            let sse = try await client.request("POST", "/\(version)/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body: body)
            #expect(sse?.header("content-type") == "text/event-stream")
            #expect(sse?.text.hasPrefix("data: {") == true)
            let array = try await client.request("POST", "/\(version)/models/gemini-2.5-flash:streamGenerateContent", body: body)
            #expect(array?.json?.arrayValue?.count ?? 0 > 1)
            let count = try await client.request("POST", "/\(version)/models/gemini-2.5-flash:countTokens", body: body)
            #expect(count?.json?["totalTokens"]?.intValue ?? 0 > 0)
        }
        await client.close()
        await gateway.stop()
    }

    @Test func modelsListAndLookup() async throws {
        var config = TestGateway.mockConfig()
        config.models = [ModelConfig(id: "fast", route: "mock", upstreamModel: "gemini-3.5-flash")]
        let gateway = try await TestGateway.start(config: config)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let list = try await client.request("GET", "/v1/models")
        let ids = list?.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        #expect(ids.first == "fast")
        #expect(ids.contains("gemini-3.5-flash"))
        #expect(try await client.request("GET", "/v1/models/fast")?.json?["id"]?.stringValue == "fast")
        #expect(try await client.request("GET", "/v1/models/gemini-2.5-pro")?.status == 200)
        #expect(try await client.request("GET", "/v1/models/nope")?.status == 404)
        await client.close()
        await gateway.stop()
    }

    @Test func badInputGetsClearErrorsInTheCallersDialect() async throws {
        var config = TestGateway.mockConfig()
        config.routes[0].passthrough = false
        config.models = [ModelConfig(id: "known", route: "mock")]
        let gateway = try await TestGateway.start(config: config)
        let client = try await RawHTTPClient.connect(port: gateway.port)

        let malformed = try await client.request("POST", "/v1/chat/completions", body: "{nope")
        #expect(malformed?.status == 400)
        #expect(malformed?.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        #expect(malformed?.json?["error"]?["message"]?.stringValue?.contains("not valid JSON") == true)

        let missing = try await client.request("POST", "/v1/chat/completions", body: #"{"model":"known"}"#)
        #expect(missing?.status == 400)
        #expect(missing?.json?["error"]?["param"]?.stringValue == "messages")

        let unknown = try await client.request("POST", "/v1/chat/completions", body: #"{"model":"ghost","messages":[{"role":"user","content":"x"}]}"#)
        #expect(unknown?.status == 404)
        #expect(unknown?.json?["error"]?["message"]?.stringValue?.contains("ghost") == true)

        let native = try await client.request("POST", "/v1beta/models/known:generateContent", body: "[1")
        #expect(native?.status == 400)
        #expect(native?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(native?.json?["error"]?["code"]?.intValue == 400)

        let nativeUnknown = try await client.request("POST", "/v1beta/models/ghost:generateContent", body: "{}")
        #expect(nativeUnknown?.json?["error"]?["status"]?.stringValue == "NOT_FOUND")

        let noRoute = try await client.request("GET", "/nowhere")
        #expect(noRoute?.status == 404)
        #expect(noRoute?.json?["error"]?["message"] != nil)

        let wrongMethod = try await client.request("GET", "/v1/chat/completions")
        #expect(wrongMethod?.status == 405)
        #expect(wrongMethod?.header("allow") == "POST")

        let badMethod = try await client.request("POST", "/v1beta/models/known:explode", body: "{}")
        #expect(badMethod?.status == 404)
        await client.close()
        await gateway.stop()
    }
}

enum FileManagerShim {
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }
}

@Suite struct NativeModelListTests {
    @Test func nativeListHasGeminiShape() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let list = try await client.request("GET", "/v1beta/models")
        let names = list?.json?["models"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("models/gemini-3.5-flash"))
        await client.close()
        await gateway.stop()
    }

    /// Paged as Gemini pages it: `pageSize` models and a `nextPageToken` while more follow; the
    /// pages together are the whole list. It had answered every model whatever was asked.
    @Test func nativeListIsPaged() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let all = try await client.request("GET", "/v1beta/models")?.json?["models"]?.arrayValue ?? []
        #expect(all.count >= 3)
        var paged: [JSONValue] = []
        var token: String?
        var pages = 0
        repeat {
            let query = "pageSize=2" + (token.map { "&pageToken=\($0)" } ?? "")
            let page = try await client.request("GET", "/v1beta/models?\(query)")
            #expect(page?.status == 200)
            let models = page?.json?["models"]?.arrayValue ?? []
            #expect(models.count <= 2 && !models.isEmpty)
            paged += models
            token = page?.json?["nextPageToken"]?.stringValue
            pages += 1
        } while token != nil && pages < 50
        #expect(paged == all)
        #expect(pages == (all.count + 1) / 2)
        let zero = try await client.request("GET", "/v1beta/models?pageSize=0")
        #expect(zero?.json?["models"]?.arrayValue?.count == all.count)
        #expect(zero?.json?["nextPageToken"] == nil)
        for bad in ["pageSize=-1", "pageSize=two", "pageToken=forged"] {
            let refused = try await client.request("GET", "/v1beta/models?\(bad)")
            #expect(refused?.status == 400, "\(bad)")
            #expect(refused?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT", "\(bad)")
        }
        await client.close()
        await gateway.stop()
    }

    /// `GET /v1beta/models/{id}` (google-genai's `models.get`, v1beta by default) answers one
    /// model in Gemini's shape; it had been a 404 "no endpoint". An unknown id is Google's 404.
    @Test func oneNativeModelHasGeminiShape() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let found = try await client.request("GET", "/v1beta/models/gemini-3.5-flash")
        #expect(found?.status == 200, "\(found?.text ?? "")")
        #expect(found?.json?["name"]?.stringValue == "models/gemini-3.5-flash")
        let prefixed = try await client.request("GET", "/v1beta/models/models%2Fgemini-3.5-flash")
        #expect(prefixed?.status == 400)  // an encoded slash is refused, as on every path
        let unknown = try await client.request("GET", "/v1beta/models/no-such-model")
        #expect(unknown?.status == 404)
        #expect(unknown?.json?["error"]?["status"]?.stringValue == "NOT_FOUND")
        #expect(try await client.request("POST", "/v1beta/models/gemini-3.5-flash")?.status == 405)
        await client.close()
        await gateway.stop()
    }
}
