import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import FlashgateWire
import NIOCore
import Testing

@testable import FlashgateServer

/// A repeated chat request reuses its translation, body and cache key only where they cannot
/// have changed: the same bytes, the same caller, the same primary route, and nothing taken from
/// the signature vault or a media URL.
@Suite struct ChatTranslationMemoTests {
    static let plain = #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}"#
    static let toolTurn = #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"find x"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"X"}]}"#
    static let mediaURL = #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}"#

    func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    func entry(_ text: String) throws -> ChatTranslationMemo.Entry {
        let chat = try ChatRequest.translate(try JSONParser.parse(Array(text.utf8)))
        return .init(chat: chat, route: "r", upstreamModel: chat.model, primary: .object(chat.gemini), key: nil)
    }

    @Test func entriesAreKeptByBytesAndCaller() throws {
        let memo = ChatTranslationMemo()
        let alice = Caller(team: "a", key: "k1")
        let key = try #require(memo.key(buffer(Self.plain), caller: alice))
        memo.remember(key, try entry(Self.plain))
        #expect(memo.entry(try #require(memo.key(buffer(Self.plain), caller: alice)))?.chat.model == "gemini-2.5-flash")
        #expect(memo.entry(try #require(memo.key(buffer(Self.plain), caller: Caller(team: "a", key: "k2")))) == nil)
        #expect(memo.entry(try #require(memo.key(buffer(Self.plain), caller: Caller(team: "b", key: "k1")))) == nil)
        #expect(memo.entry(try #require(memo.key(buffer(Self.plain + " "), caller: alice))) == nil)
    }

    @Test func requestsWithVaultSignaturesOrMediaURLsAreNeverKept() throws {
        let memo = ChatTranslationMemo()
        let caller = Caller(team: "a")
        for text in [Self.toolTurn, Self.mediaURL] {
            let chosen = try entry(text)
            #expect(!ChatTranslationMemo.keepable(chosen.chat))
            memo.remember(try #require(memo.key(buffer(text), caller: caller)), chosen)
        }
        #expect(memo.count == 0)
        #expect(ChatTranslationMemo.keepable(try entry(Self.plain).chat))
    }

    @Test func theMemoIsBounded() throws {
        let memo = ChatTranslationMemo(limit: 3, byteLimit: 1 << 20)
        let caller = Caller(team: "a")
        for n in 0..<3 {
            let text = Self.plain.replacingOccurrences(of: "hi", with: "hi \(n)")
            memo.remember(try #require(memo.key(buffer(text), caller: caller)), try entry(text))
        }
        #expect(memo.count == 3)
        let fourth = Self.plain.replacingOccurrences(of: "hi", with: "hi 3")
        memo.remember(try #require(memo.key(buffer(fourth), caller: caller)), try entry(fourth))
        #expect(memo.count == 1)  // started over

        let small = ChatTranslationMemo(limit: 100, byteLimit: Self.plain.utf8.count + 10)
        for n in 0..<2 {
            let text = Self.plain.replacingOccurrences(of: "hi", with: "hi \(n)")
            small.remember(try #require(small.key(buffer(text), caller: caller)), try entry(text))
        }
        #expect(small.count == 1)  // the second body did not fit beside the first

        let big = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\""
            + String(repeating: "x", count: ChatTranslationMemo.maxBodyBytes) + "\"}]}"
        #expect(memo.key(buffer(big), caller: caller) == nil)
    }

    /// A gateway with the response cache on (a store in a temporary directory) in front of a fake.
    static func cachingGateway() async throws -> (FakeGemini, CurlTransport, TestGateway, TempDirectory) {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        var config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        config.cache.ttl = .seconds(60)
        let directory = try TempDirectory()
        let gateway = try await TestGateway.start(config: config, http: curl, storeDirectory: directory.path)
        return (fake, curl, gateway, directory)
    }

    /// The same tool-call turn sent twice, the response cache on: the first time the vault has no
    /// signature for its call, the second time it has one, so the second upstream body (and its
    /// cache key) must carry it — a kept body would have been answered from the first one's entry.
    @Test func aToolTurnIsBuiltAgainstTheVaultEveryTime() async throws {
        let (fake, curl, gateway, directory) = try await Self.cachingGateway()
        defer { directory.remove() }
        // The vault the gateway reads (the store's, on disk).
        let signatures = gateway.running.gateway.chatCompletions.signatures
        let client = try await RawHTTPClient.connect(port: gateway.port)

        let first = try await client.request("POST", "/v1/chat/completions", body: Self.toolTurn)
        #expect(first?.headers.first(name: "x-flashgate-cache") == "miss")
        let before = try #require(fake.received.last?.bodyJSON)
        #expect(before["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue != "UkVBTC1TSUc=")

        signatures.save(team: Caller.defaultTeam, route: "studio", signatures: [("call_1", "UkVBTC1TSUc=")])
        let second = try await client.request("POST", "/v1/chat/completions", body: Self.toolTurn)
        #expect(second?.headers.first(name: "x-flashgate-cache") == "miss")
        #expect(fake.received.count == 2)
        let after = try #require(fake.received.last?.bodyJSON)
        #expect(after["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue == "UkVBTC1TSUc=")
        #expect(gateway.running.gateway.chatCompletions.memo.count == 0)

        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    /// A repeated plain request is translated once and answered from the response cache with the
    /// key its first call made.
    @Test func aRepeatedRequestReusesItsTranslationAndKey() async throws {
        let (fake, curl, gateway, directory) = try await Self.cachingGateway()
        defer { directory.remove() }
        let client = try await RawHTTPClient.connect(port: gateway.port)

        let first = try await client.request("POST", "/v1/chat/completions", body: Self.plain)
        #expect(first?.headers.first(name: "x-flashgate-cache") == "miss")
        let memo = gateway.running.gateway.chatCompletions.memo
        #expect(memo.count == 1)
        let key = try #require(memo.key(ByteBuffer(string: Self.plain), caller: Caller(team: Caller.defaultTeam)))
        #expect(memo.entry(key)?.key != nil)
        let second = try await client.request("POST", "/v1/chat/completions", body: Self.plain)
        #expect(second?.headers.first(name: "x-flashgate-cache") == "hit")
        #expect(fake.received.count == 1)
        #expect(memo.count == 1)

        // `no-store` keeps the prompt out of memory: neither looked up nor kept.
        let other = Self.plain.replacingOccurrences(of: "hi", with: "hello")
        let unstored = try await client.request(
            "POST", "/v1/chat/completions", body: other, headers: [("cache-control", "no-store")])
        #expect(unstored?.headers.first(name: "x-flashgate-cache") == "bypass")
        #expect(memo.count == 1)

        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }
}
