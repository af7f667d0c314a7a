import FlashgateAccounting
import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// The extended candidate: a system prompt plus a long document that opens the conversation (the
/// first user turn), cached together when that saves more than caching the system prompt alone.
extension ContextCacheTests {
    /// A 30k-token document (FakeTokens: four bytes a token).
    static let document = String(repeating: "fact ", count: 24_000)

    static func turn(_ role: String, _ text: String) -> JSONValue {
        ["role": .string(role), "parts": [["text": .string(text)]]]
    }

    /// A native body with the test's system prompt (or none) and tools, and `contents`.
    static func body(contents: [JSONValue], system: String? = ContextCacheTests.system) -> JSONValue {
        var object: JSONObject = ["tools": tools, "contents": .array(contents)]
        if let system { object["systemInstruction"] = ["parts": [["text": .string(system)]]] }
        return .object(object)
    }

    /// The members of a body that make its prompt (what a cache may hold, and the contents),
    /// without what Flashgate adds on the way (e.g. a team's output cap).
    static func prompt(_ body: JSONValue?) -> JSONValue? {
        guard let body else { return nil }
        var object = JSONObject()
        for member in ["cachedContent", "systemInstruction", "tools", "toolConfig", "contents"] {
            object[member] = body[member]
        }
        return .object(object)
    }

    /// The document and a question after it.
    static func withDocument(_ question: String, document: String = ContextCacheTests.document) -> [JSONValue] {
        [turn("user", document), turn("user", question)]
    }
}

extension ContextCacheTests.Harness {
    func generate(
        _ body: JSONValue, key: String = ContextCacheTests.key, model: String = "gemini-3.5-flash"
    ) async throws -> RawHTTPClient.Response {
        let client = try await RawHTTPClient.connect(port: gateway.port)
        defer { Task { await client.close() } }
        let response = try await client.request(
            "POST", "/v1beta/models/\(model):generateContent", body: JSONWriter.string(body),
            headers: [("x-goog-api-key", key)])
        return try #require(response)
    }
}

@Suite struct ContextCacheLeadingTests {
    typealias H = ContextCacheTests.Harness
    typealias T = ContextCacheTests

    @Test func aSharedLeadingDocumentBecomesOneExtendedCacheThatLaterRequestsReadWithoutSendingIt() async throws {
        let h = try await H.start()
        // Both candidates pay at the second read; the one holding the document saves more.
        #expect(try await h.generate(T.body(contents: T.withDocument("q1"))).status == 200)
        #expect(h.creates().isEmpty)
        #expect(try await h.generate(T.body(contents: T.withDocument("q2"))).status == 200)
        await h.waitForLive(1)
        #expect(h.creates().count == 1)
        let created = try #require(h.fake.cachedContents.live.first)
        #expect(created.body["systemInstruction"] != nil && created.body["tools"] != nil)
        #expect(created.body["contents"] == .array([T.turn("user", T.document)]))
        #expect(created.tokens > 40_000)

        // Later requests differ in their later turns and carry neither the prefix nor the document.
        let later: [[JSONValue]] = [
            T.withDocument("q3"),
            [T.turn("user", T.document), T.turn("model", "Read it."), T.turn("user", "q4")],
            T.withDocument("q5") + [T.turn("model", "a5"), T.turn("user", "and then?")],
        ]
        for contents in later {
            let original = T.body(contents: contents)
            let response = try await h.generate(original)
            #expect(response.status == 200)
            let sent = try #require(h.generations().last?.bodyJSON)
            #expect(sent["cachedContent"]?.stringValue == created.name)
            #expect(sent["systemInstruction"] == nil && sent["tools"] == nil && sent["toolConfig"] == nil)
            #expect(sent["contents"] == .array(Array(contents.dropFirst())))
            // What Gemini reads is the request as the client sent it.
            #expect(T.prompt(h.fake.cachedContents.expanded(sent)) == T.prompt(original))
            // The cost is what Google bills: the cached tokens at the cached rate.
            let usage = try #require(response.json?["usageMetadata"])
            #expect(usage["cachedContentTokenCount"]?.intValue == created.tokens)
            let prompt = try #require(usage["promptTokenCount"]?.intValue)
            #expect(prompt == created.tokens + FakeTokens.count(.object(["contents": sent["contents"]!])))
            #expect(
                response.header("x-flashgate-cost-usd")
                    == T.billed(prompt: prompt, cached: created.tokens, output: 3).dollars)
        }
        #expect(h.creates().count == 1)
        // Both candidates' statistics are in LMDB: the base one stopped counting reads served
        // from the extended cache.
        let prefixes = try #require(
            ContextPrefixes(
                body: T.body(contents: T.withDocument("any")), scope: "team:search", model: "gemini-3.5-flash",
                route: "studio"))
        let extendedKey = try #require(prefixes.extended?.key)
        let baseKey = try #require(prefixes.base?.key)
        let extended = try #require(h.book.remembered(extendedKey))
        let base = try #require(h.book.remembered(baseKey))
        #expect(extended.reads == 5 && base.reads == 2)
        #expect(extended.tokens > base.tokens + 29_000)

        // The creation is billed as input; the rent by the hour it lived.
        let create = try await h.rows(Accountant.contextCreateStatus, atLeast: 1)
        #expect(create.map(\.cost) == [MicroUSD((Int64(created.tokens) * 1_500_000 + 999_999) / 1_000_000)])
        h.advance(seconds: 3_601)
        #expect(try await h.generate(T.body(contents: T.withDocument("q6"))).status == 200)
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        #expect(storage.map(\.cost) == [MicroUSD(Int64(created.tokens))])
        #expect(storage.first?.team == "search")
        let expired = try #require(h.generations().last?.bodyJSON)
        #expect(expired["cachedContent"] == nil && expired["contents"]?.arrayValue?.count == 2)
        try await h.stop()
    }

    @Test func concurrentFirstRequestsWithBothCandidatesCreateOneCache() async throws {
        let h = try await H.start()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                group.addTask { try await h.generate(T.body(contents: T.withDocument("concurrent \(index)"))).status }
            }
            for try await status in group { #expect(status == 200) }
        }
        await h.waitForLive(1)
        // Once it is live, later calls neither create the base one nor another extended one.
        for index in 0..<3 {
            #expect(try await h.generate(T.body(contents: T.withDocument("after \(index)"))).status == 200)
        }
        #expect(h.creates().count == 1)
        #expect(h.fake.cachedContents.live.map(\.body["contents"]) == [.array([T.turn("user", T.document)])])
        try await h.stop()
    }

    @Test func requestsSharingOnlyTheSystemPromptStillUseTheBaseCache() async throws {
        let h = try await H.start()
        for index in 0..<2 {
            let contents = T.withDocument("q", document: String(repeating: "doc\(index) ", count: 4_000))
            #expect(try await h.generate(T.body(contents: contents)).status == 200)
        }
        await h.waitForLive(1)
        let created = try #require(h.fake.cachedContents.live.first)
        #expect(created.body["contents"] == nil && created.body["systemInstruction"] != nil)
        let contents = T.withDocument("q", document: "a third opening")
        let response = try await h.generate(T.body(contents: contents))
        #expect(response.status == 200)
        let sent = try #require(h.generations().last?.bodyJSON)
        #expect(sent["cachedContent"]?.stringValue == created.name && sent["systemInstruction"] == nil)
        #expect(sent["contents"] == .array(contents))
        #expect(h.creates().count == 1)
        try await h.stop()
    }

    @Test func aConversationGrowingTurnByTurnKeepsHittingTheSamePrefix() async throws {
        let h = try await H.start()
        // No system prompt: the document that opens the conversation is the whole prefix.
        var contents = [T.turn("user", T.document)]
        var names: [String?] = []
        for turn in 1...6 {
            #expect(try await h.generate(T.body(contents: contents, system: nil)).status == 200)
            if turn == 3 { await h.waitForLive(1) }
            let sent = try #require(h.generations().last?.bodyJSON)
            names.append(sent["cachedContent"]?.stringValue)
            if sent["cachedContent"] != nil { #expect(sent["contents"] == .array(Array(contents.dropFirst()))) }
            contents += [T.turn("model", "answer \(turn)"), T.turn("user", "question \(turn + 1)")]
        }
        // Turn one has no content after the document, turns two and three make the reads that pay,
        // and every later turn reads the one cache.
        let name = try #require(h.fake.cachedContents.live.first?.name)
        #expect(names == [nil, nil, nil, name, name, name])
        #expect(h.creates().count == 1)
        try await h.stop()
    }

    @Test func onALiveBaseCacheTheExtendedOneIsCreatedOnceTheDocumentsTokensPayAlone() async throws {
        let h = try await H.start()
        var contents = [T.turn("user", T.document)]
        var names: [String?] = []
        for turn in 1...6 {
            #expect(try await h.generate(T.body(contents: contents)).status == 200)
            if turn == 2 { await h.waitForLive(1) }
            if turn == 4 { await h.waitForLive(2) }
            names.append(h.generations().last?.bodyJSON?["cachedContent"]?.stringValue)
            contents += [T.turn("model", "answer \(turn)"), T.turn("user", "question \(turn + 1)")]
        }
        // Turn two has no extended read to spare, so the base prefix is cached; on it, the
        // document's 30k tokens save 40,500 µ$ a read against about 100,000 µ$ of creation and rent
        // for the whole extended prefix: its third read pays, and later turns read it instead.
        let live = h.fake.cachedContents.live
        let base = try #require(live.first { $0.body["contents"] == nil })
        let extended = try #require(live.first { $0.body["contents"] != nil })
        #expect(names == [nil, nil, base.name, base.name, extended.name, extended.name])
        #expect(h.creates().count == 2)
        let last = try #require(h.generations().last?.bodyJSON)
        #expect(last["systemInstruction"] == nil && last["contents"]?.arrayValue?.count == 10)
        try await h.stop()
    }

    /// A conversation whose leading run holds a model turn with a thought signature, issued by
    /// the cache's route (kept: the cache holds it as sent) or by another route (replaced by the
    /// stand-in on this route, so the run is not cached and the base prefix is).
    @Test(arguments: ["studio", "elsewhere"])
    func aCachedModelTurnKeepsItsThoughtSignatureAndARunTheRouteSendsDifferentlyIsNotCached(
        _ issuer: String
    )
        async throws
    {
        let h = try await H.start()
        let signature = "UkVBTC1TSUc="
        h.gateway.running.gateway.signatures.save(
            team: "search", route: issuer, signatures: [(SignatureOrigins.key(signature), signature)])
        let call: JSONValue = [
            "role": "model",
            "parts": [
                ["functionCall": ["name": "lookup", "args": ["q": "x"]], "thoughtSignature": .string(signature)]
            ],
        ]
        let leading = [call, T.turn("user", T.document)]
        _ = try await h.generate(T.body(contents: leading + [T.turn("user", "q1")]))
        _ = try await h.generate(T.body(contents: leading + [T.turn("user", "q2")]))
        await h.waitForLive(1)
        let created = try #require(h.fake.cachedContents.live.first)
        _ = try await h.generate(T.body(contents: leading + [T.turn("user", "q3")]))
        let sent = try #require(h.generations().last?.bodyJSON)
        #expect(sent["cachedContent"]?.stringValue == created.name)
        if issuer == "studio" {
            #expect(created.body["contents"] == .array(leading))
            #expect(created.body["contents"]?[0]?["parts"]?[0]?["thoughtSignature"]?.stringValue == signature)
            #expect(sent["contents"] == .array([T.turn("user", "q3")]))
        } else {
            #expect(created.body["contents"] == nil)
            let stand = sent["contents"]?[0]?["parts"]?[0]?["thoughtSignature"]?.stringValue
            #expect(stand == SignatureOrigins.skipSignature)
            #expect(sent["contents"]?.arrayValue?.count == 3)
        }
        #expect(h.creates().count == 1)
        try await h.stop()
    }

    @Test func aStaleExtendedCacheIsForgottenAndTheRequestRetriedInFull() async throws {
        let h = try await H.start()
        _ = try await h.generate(T.body(contents: T.withDocument("q1")))
        _ = try await h.generate(T.body(contents: T.withDocument("q2")))
        await h.waitForLive(1)
        let cache = try #require(h.fake.cachedContents.live.first)
        h.fake.cachedContents.remove(cache.name)
        h.advance(seconds: 1_800)
        let before = h.generations().count
        let contents = T.withDocument("q3")
        let response = try await h.generate(T.body(contents: contents))
        #expect(response.status == 200)
        let sent = h.generations().dropFirst(before).compactMap(\.bodyJSON)
        #expect(sent.count == 2)
        #expect(sent.first?["cachedContent"]?.stringValue == cache.name)
        #expect(sent.first?["contents"] == .array([T.turn("user", "q3")]))
        #expect(T.prompt(sent.last) == T.prompt(T.body(contents: contents)))
        #expect(h.book.snapshot.live == 0)
        // It lived half an hour: half an hour of rent.
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        #expect(storage.map(\.cost) == [MicroUSD(Int64(cache.tokens) / 2)])
        try await h.stop()
    }

    @Test func anotherTeamNeverReadsTheExtendedCache() async throws {
        let h = try await H.start()
        _ = try await h.generate(T.body(contents: T.withDocument("q1")))
        _ = try await h.generate(T.body(contents: T.withDocument("q2")))
        await h.waitForLive(1)
        let contents = T.withDocument("from other")
        #expect(try await h.generate(T.body(contents: contents), key: T.otherKey).status == 200)
        #expect(T.prompt(h.generations().last?.bodyJSON) == T.prompt(T.body(contents: contents)))
        #expect(h.creates().count == 1)
        try await h.stop()
    }

    @Test func failoverSendsTheDocumentAndThePrefixToTheOtherRoute() async throws {
        let h = try await H.start { config in
            T.addBackupRoute(&config)
        }
        _ = try await h.generate(T.body(contents: T.withDocument("q1")))
        _ = try await h.generate(T.body(contents: T.withDocument("q2")))
        await h.waitForLive(1)
        h.fake.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        let before = h.generations().count
        let contents = T.withDocument("q3")
        #expect(try await h.generate(T.body(contents: contents)).status == 200)
        let sent = h.generations().dropFirst(before)
        #expect(sent.count == 2)
        #expect(sent.first?.bodyJSON?["cachedContent"] != nil && sent.first?.header("x-goog-api-key") == "k")
        #expect(T.prompt(sent.last?.bodyJSON) == T.prompt(T.body(contents: contents)))
        #expect(sent.last?.header("x-goog-api-key") == "k2")
        try await h.stop()
    }
}
