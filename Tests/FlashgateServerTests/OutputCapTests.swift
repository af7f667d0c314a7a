import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// A team's `max_output_tokens` bounds what Gemini may generate, not only the reservation. Before,
/// it was assumed by the worst case a call reserved but never sent: an answer longer than the cap
/// cost more than its reservation, so a strict hard budget could be passed.
extension AccountingTests {
    @Test func theTeamsOutputCapIsSentUpstreamOnEveryGeneration() async throws {
        // The harness's team caps output at 64 tokens.
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let native = [("x-goog-api-key", Self.key), ("cache-control", "no-store")]
        func sent() throws -> JSONValue { try #require(h.fake.received.last?.bodyJSON) }

        let cases: [(String, String, [(String, String)], (JSONValue) -> JSONValue?)] = [
            (
                "/v1/chat/completions", #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"a"}]}"#,
                Self.auth, { $0["generationConfig"]?["maxOutputTokens"] }
            ),
            (
                "/v1/chat/completions",
                #"{"model":"gemini-3.5-flash","max_tokens":1000,"messages":[{"role":"user","content":"b"}]}"#,
                Self.auth, { $0["generationConfig"]?["maxOutputTokens"] }
            ),
            (
                "/v1/responses", #"{"model":"gemini-3.5-flash","max_output_tokens":500,"input":"c"}"#, Self.auth,
                { $0["generationConfig"]?["maxOutputTokens"] }
            ),
            (
                "/v1beta/models/gemini-3.5-flash:generateContent",
                #"{"contents":[{"parts":[{"text":"d"}]}],"generationConfig":{"maxOutputTokens":9999,"temperature":0.5}}"#,
                native, { $0["generationConfig"]?["maxOutputTokens"] }
            ),
            (
                "/v1beta/models/gemini-3.5-flash:generateContent",
                #"{"contents":[{"parts":[{"text":"e"}]}],"generation_config":{"max_output_tokens":9999}}"#, native,
                { $0["generationConfig"] == nil ? $0["generation_config"]?["max_output_tokens"] : nil }
            ),
            (
                "/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse", #"{"contents":[{"parts":[{"text":"f"}]}]}"#,
                native, { $0["generationConfig"]?["maxOutputTokens"] }
            ),
        ]
        for (path, body, headers, cap) in cases {
            let response = try await client.request("POST", path, body: body, headers: headers)
            #expect(response?.status == 200, "\(path) \(body)")
            #expect(cap(try sent()) == .number("64"), "\(path) \(body)")
        }
        // A call asking for less keeps its own limit, and the rest of its config.
        let small = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"contents":[{"parts":[{"text":"g"}]}],"generationConfig":{"maxOutputTokens":16,"temperature":0.5}}"#,
            headers: native)
        #expect(small?.status == 200)
        #expect(try sent()["generationConfig"] == ["maxOutputTokens": .number("16"), "temperature": .number("0.5")])
        await client.close()
        try await h.stop()
    }
}
