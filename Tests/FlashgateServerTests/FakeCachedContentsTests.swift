import FlashgateCore
import FlashgateTesting
import Testing

/// FakeGemini's `cachedContents`, as AI Studio behaves: owner = the key that created a cache,
/// a minimum size, TTLs on the fake's clock, and generations that reference a cache.
@Suite struct FakeCachedContentsTests {
    static let prompt = String(repeating: "word ", count: 1_000)  // 1,250 tokens
    static let create =
        #"{"model":"models/gemini-3.5-flash","systemInstruction":{"parts":[{"text":"\#(prompt)"}]},"ttl":"600s"}"#

    static func start() async throws -> (FakeGemini, RawHTTPClient) {
        let fake = try await FakeGemini.start()
        fake.cachedContents.setNow(milliseconds: 1_800_000_000_000)
        return (fake, try await RawHTTPClient.connect(port: fake.port))
    }

    @Test func createGetListPatchDeleteBelongToTheCreatingKey() async throws {
        let (fake, client) = try await Self.start()
        let a = [("x-goog-api-key", "key-a")]
        let b = [("x-goog-api-key", "key-b")]
        let created = try #require(
            try await client.request("POST", "/v1beta/cachedContents", body: Self.create, headers: a))
        #expect(created.status == 200)
        let name = try #require(created.json?["name"]?.stringValue)
        #expect(created.json?["usageMetadata"]?["totalTokenCount"]?.intValue == 1_250)
        #expect(created.json?["expireTime"]?.stringValue == "2027-01-15T08:10:00Z")
        #expect(try await client.request("GET", "/v1beta/\(name)", headers: a)?.status == 200)
        #expect(try await client.request("GET", "/v1beta/\(name)", headers: b)?.status == 403)
        #expect(
            try await client.request("GET", "/v1beta/cachedContents", headers: a)?.json?["cachedContents"]?.arrayValue?
                .count == 1)
        #expect(
            try await client.request("GET", "/v1beta/cachedContents", headers: b)?.json?["cachedContents"]?.arrayValue?
                .count == 0)
        let patched = try await client.request("PATCH", "/v1beta/\(name)", body: #"{"ttl":"3600s"}"#, headers: a)
        #expect(patched?.json?["expireTime"]?.stringValue == "2027-01-15T09:00:00Z")
        #expect(
            try await client.request("PATCH", "/v1beta/\(name)", body: #"{"displayName":"x"}"#, headers: a)?.status
                == 400)
        #expect(try await client.request("DELETE", "/v1beta/\(name)", headers: b)?.status == 403)
        #expect(try await client.request("DELETE", "/v1beta/\(name)", headers: a)?.status == 200)
        #expect(try await client.request("GET", "/v1beta/\(name)", headers: a)?.status == 404)
        #expect(fake.cachedContents.createdCount == 1 && fake.cachedContents.live.isEmpty)
        await client.close()
        try await fake.shutdown()
    }

    @Test func tooSmallIsRefusedWithTheFloorInTheMessage() async throws {
        let (fake, client) = try await Self.start()
        fake.cachedContents.setMinimumTokens(4_096)
        let refused = try await client.request(
            "POST", "/v1beta/cachedContents", body: Self.create, headers: [("x-goog-api-key", "k")])
        #expect(refused?.status == 400)
        #expect(refused?.json?["error"]?["message"]?.stringValue?.contains("min_total_token_count=4096") == true)
        #expect(fake.cachedContents.createdCount == 0)
        await client.close()
        try await fake.shutdown()
    }

    @Test func generationsOnACacheFollowGeminisRules() async throws {
        let (fake, client) = try await Self.start()
        let a = [("x-goog-api-key", "key-a")]
        let created = try await client.request("POST", "/v1beta/cachedContents", body: Self.create, headers: a)
        let name = try #require(created?.json?["name"]?.stringValue)
        let path = "/v1beta/models/gemini-3.5-flash:generateContent"
        let question = #""contents":[{"role":"user","parts":[{"text":"abcd"}]}]"#
        // Reads the cache: cached tokens counted in the prompt and reported apart.
        let ok = try await client.request("POST", path, body: #"{"cachedContent":"\#(name)",\#(question)}"#, headers: a)
        #expect(ok?.status == 200)
        #expect(ok?.json?["usageMetadata"]?["cachedContentTokenCount"]?.intValue == 1_250)
        #expect(ok?.json?["usageMetadata"]?["promptTokenCount"]?.intValue == 1_251)
        // The prefix may not be sent again with the cache.
        let twice = try await client.request(
            "POST", path,
            body: #"{"cachedContent":"\#(name)","systemInstruction":{"parts":[{"text":"x"}]},\#(question)}"#,
            headers: a)
        #expect(twice?.status == 400)
        // Another key's cache, another model, an expired cache.
        let other = try await client.request(
            "POST", path, body: #"{"cachedContent":"\#(name)",\#(question)}"#, headers: [("x-goog-api-key", "key-b")])
        #expect(other?.status == 403)
        let model = try await client.request(
            "POST", "/v1beta/models/gemini-2.5-flash:generateContent",
            body: #"{"cachedContent":"\#(name)",\#(question)}"#,
            headers: a)
        #expect(model?.status == 400)
        fake.cachedContents.setNow(milliseconds: 1_800_000_000_000 + 600_000)
        let expired = try await client.request(
            "POST", path, body: #"{"cachedContent":"\#(name)",\#(question)}"#, headers: a)
        #expect(expired?.status == 404)
        #expect(expired?.json?["error"]?["message"]?.stringValue?.contains(name) == true)
        await client.close()
        try await fake.shutdown()
    }

    @Test func aCacheWithContentsIsAPrefixOfTheRequestsContents() async throws {
        let (fake, client) = try await Self.start()
        let a = [("x-goog-api-key", "key-a")]
        let document = #"{"role":"user","parts":[{"text":"\#(Self.prompt)"}]}"#
        // Cached contents may not end on a model turn.
        let endsOnModel = try await client.request(
            "POST", "/v1beta/cachedContents",
            body:
                #"{"model":"models/gemini-3.5-flash","contents":[\#(document),{"role":"model","parts":[{"text":"ok"}]}]}"#,
            headers: a)
        #expect(endsOnModel?.status == 400)
        #expect(endsOnModel?.json?["error"]?["message"]?.stringValue?.contains("model turn") == true)
        let created = try await client.request(
            "POST", "/v1beta/cachedContents",
            body:
                #"{"model":"models/gemini-3.5-flash","systemInstruction":{"parts":[{"text":"abcd"}]},"contents":[\#(document)]}"#,
            headers: a)
        let name = try #require(created?.json?["name"]?.stringValue)
        #expect(created?.json?["usageMetadata"]?["totalTokenCount"]?.intValue == 1_251)
        // The request's contents follow the cached ones: counted after them, and read so.
        let path = "/v1beta/models/gemini-3.5-flash:generateContent"
        let body =
            #"{"cachedContent":"\#(name)","contents":[{"role":"model","parts":[{"text":"abcd"}]},{"role":"user","parts":[{"text":"abcdefgh"}]}]}"#
        let ok = try await client.request("POST", path, body: body, headers: a)
        #expect(ok?.status == 200)
        #expect(ok?.json?["usageMetadata"]?["cachedContentTokenCount"]?.intValue == 1_251)
        #expect(ok?.json?["usageMetadata"]?["promptTokenCount"]?.intValue == 1_254)
        let expanded = try #require(fake.cachedContents.expanded(try JSONParser.parse(Array(body.utf8))))
        #expect(expanded["cachedContent"] == nil && expanded["systemInstruction"]?["parts"]?[0]?["text"] == "abcd")
        #expect(expanded["contents"]?.arrayValue?.map { $0["role"]?.stringValue } == ["user", "model", "user"])
        // A request on a cache must still send a content of its own.
        let empty = try await client.request("POST", path, body: #"{"cachedContent":"\#(name)"}"#, headers: a)
        #expect(empty?.status == 400)
        await client.close()
        try await fake.shutdown()
    }
}
