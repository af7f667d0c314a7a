import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// The native `/v1beta/cachedContents` endpoints, passed through per team.
extension ContextCacheTests {
    static let createBody =
        #"{"model":"models/gemini-3.5-flash","systemInstruction":{"parts":[{"text":"\#(system)"}]},"ttl":"1800s"}"#

    @Test func aTeamManagesOnlyTheCachesItCreatedAndPaysTheirRent() async throws {
        let h = try await H.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let mine = [("x-goog-api-key", ContextCacheTests.key)]
        let theirs = [("x-goog-api-key", ContextCacheTests.otherKey)]
        let created = try #require(
            try await client.request("POST", "/v1beta/cachedContents", body: Self.createBody, headers: mine))
        #expect(created.status == 200)
        let name = try #require(created.json?["name"]?.stringValue)
        let tokens = try #require(h.fake.cachedContents.live.first?.tokens)
        // Created with the route's key, not the client's.
        #expect(h.fake.cachedContents.live.first?.owner == "k")
        let id = String(name.dropFirst("cachedContents/".count))

        // Another team sees nothing of it.
        #expect(try await client.request("GET", "/v1beta/\(name)", headers: theirs)?.status == 404)
        #expect(try await client.request("DELETE", "/v1beta/\(name)", headers: theirs)?.status == 404)
        #expect(
            try await client.request("PATCH", "/v1beta/\(name)", body: #"{"ttl":"60s"}"#, headers: theirs)?.status
                == 404)
        let theirList = try await client.request("GET", "/v1beta/cachedContents", headers: theirs)
        #expect(theirList?.json?["cachedContents"]?.arrayValue?.isEmpty == true)
        // Its owner reads and lists it; automatic caches of the same key are not listed.
        #expect(
            try await client.request("GET", "/v1beta/cachedContents/\(id)", headers: mine)?.json?["name"]?.stringValue
                == name)
        let list = try await client.request("GET", "/v1beta/cachedContents", headers: mine)
        #expect(list?.json?["cachedContents"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [name])
        // Another team cannot read it by naming it either.
        let foreign = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"cachedContent":"\#(name)","contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#, headers: theirs
        )
        #expect(foreign?.status == 404)
        #expect(h.generations().isEmpty)
        // A generation on it passes through and reads it.
        let generated = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"cachedContent":"\#(name)","contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#, headers: mine)
        #expect(generated?.json?["usageMetadata"]?["cachedContentTokenCount"]?.intValue == tokens)

        // Its creation billed as input, then 10 minutes of rent, a new 1-hour period, and a delete
        // 15 minutes into it: each period settled by the time it covered.
        let create = try await h.rows(Accountant.contextCreateStatus, atLeast: 1)
        #expect(create.map(\.cost) == [MicroUSD((Int64(tokens) * 1_500_000 + 999_999) / 1_000_000)])
        h.advance(seconds: 600)
        #expect(
            try await client.request("PATCH", "/v1beta/\(name)", body: #"{"ttl":"3600s"}"#, headers: mine)?.status
                == 200)
        _ = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        h.advance(seconds: 900)
        #expect(try await client.request("DELETE", "/v1beta/\(name)", headers: mine)?.status == 200)
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 2)
        #expect(
            storage.map(\.cost).sorted { $0.value < $1.value } == [
                MicroUSD((Int64(tokens) * 600 + 3_599) / 3_600), MicroUSD((Int64(tokens) * 900 + 3_599) / 3_600),
            ])
        #expect(storage.allSatisfy { $0.team == "search" })
        #expect(h.fake.cachedContents.live.isEmpty)
        #expect(try await client.request("GET", "/v1beta/\(name)", headers: mine)?.status == 404)
        await client.close()
        try await h.stop()
    }

    /// A create is one request against the team's rate limits; its rent is budget only. Before,
    /// the rent asked the limiter too: a team with `concurrent: 1` could never create a cache (the
    /// create's own call held the slot), and each create took two requests a minute.
    @Test func aCreateIsOneRequestAgainstTheTeamsLimitsAndItsRentNone() async throws {
        let h = try await H.start { config in
            config.teams[0].limits = RateLimits(requestsPerMinute: 2, concurrent: 1)
        }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let mine = [("x-goog-api-key", ContextCacheTests.key)]
        for ttl in ["1800s", "3600s"] {
            let body = Self.createBody.replacingOccurrences(of: #""ttl":"1800s""#, with: #""ttl":"\#(ttl)""#)
            let created = try await client.request("POST", "/v1beta/cachedContents", body: body, headers: mine)
            #expect(created?.status == 200, "\(ttl): \(created?.text ?? "")")
        }
        let third = try await client.request("POST", "/v1beta/cachedContents", body: Self.createBody, headers: mine)
        #expect(third?.status == 429)
        #expect(third?.text.contains("rpm") == true, "\(third?.text ?? "")")
        #expect(h.creates().count == 2)
        await client.close()
        try await h.stop()
    }

    /// Gemini reads `cached_content` as it reads `cachedContent`: a generation naming another
    /// team's cache in either spelling is a 404 and never reaches Gemini. Before, the proto
    /// spelling passed the ownership check, and one team's call was served from another's prefix.
    @Test func anotherTeamsCacheIsRefusedInEitherSpelling() async throws {
        let h = try await H.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let created = try await client.request(
            "POST", "/v1beta/cachedContents", body: Self.createBody,
            headers: [("x-goog-api-key", ContextCacheTests.key)])
        let name = try #require(created?.json?["name"]?.stringValue)
        for field in ["cachedContent", "cached_content"] {
            let foreign = try await client.request(
                "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
                body: #"{"\#(field)":"\#(name)","contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
                headers: [("x-goog-api-key", ContextCacheTests.otherKey)])
            #expect(foreign?.status == 404, "\(field)")
            // A token count names its cache inside the request it counts.
            let counted = try await client.request(
                "POST", "/v1beta/models/gemini-3.5-flash:countTokens",
                body:
                    #"{"generateContentRequest":{"model":"models/gemini-3.5-flash","\#(field)":"\#(name)","contents":[{"role":"user","parts":[{"text":"hi"}]}]}}"#,
                headers: [("x-goog-api-key", ContextCacheTests.otherKey)])
            #expect(counted?.status == 404, "countTokens, \(field)")
        }
        #expect(h.generations().isEmpty)
        #expect(h.fake.received.allSatisfy { !$0.path.hasSuffix(":countTokens") })
        await client.close()
        try await h.stop()
    }

    /// Who owns a cache outlives a restart: the caches live on upstream, and after a restart a
    /// team could read another team's cache by its name (the ownership was in memory only).
    /// The owner still uses its cache; others get a 404 and nothing reaches Gemini.
    @Test func aCachesOwnerIsKeptAcrossARestart() async throws {
        let first = try await H.start()
        var client = try await RawHTTPClient.connect(port: first.gateway.port)
        let created = try await client.request(
            "POST", "/v1beta/cachedContents", body: Self.createBody, headers: [("x-goog-api-key", ContextCacheTests.key)])
        let name = try #require(created?.json?["name"]?.stringValue)
        await client.close()
        let h = try await first.restarted()
        client = try await RawHTTPClient.connect(port: h.gateway.port)
        let body = #"{"cachedContent":"\#(name)","contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#
        let foreign = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: body,
            headers: [("x-goog-api-key", ContextCacheTests.otherKey)])
        #expect(foreign?.status == 404)
        #expect(h.generations().isEmpty)
        let own = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: body,
            headers: [("x-goog-api-key", ContextCacheTests.key)])
        #expect(own?.status == 200)
        #expect(h.generations().last?.bodyJSON?["cachedContent"]?.stringValue == name)
        await client.close()
        try await h.stop()
    }

    /// A client's cache can still be read, listed, updated and deleted by its team after a
    /// restart. Before, only who owned it was kept, so its owner got a 404 for every one of those
    /// (the cache lived on upstream, rent paid, and could not be deleted through Flashgate). The
    /// stop settled its rent to its expiry, so an update pays only for the time past it.
    @Test func aClientsCacheIsManagedByItsTeamAfterARestart() async throws {
        let first = try await H.start()
        var client = try await RawHTTPClient.connect(port: first.gateway.port)
        let mine = [("x-goog-api-key", ContextCacheTests.key)]
        let theirs = [("x-goog-api-key", ContextCacheTests.otherKey)]
        let created = try await client.request("POST", "/v1beta/cachedContents", body: Self.createBody, headers: mine)
        let name = try #require(created?.json?["name"]?.stringValue)
        let tokens = Int64(try #require(first.fake.cachedContents.live.first?.tokens))
        await client.close()
        let h = try await first.restarted()
        // The stop settled the 1,800 s it was created for.
        let rent = { (seconds: Int64) in MicroUSD((tokens * seconds + 3_599) / 3_600) }
        #expect(try await h.rows(Accountant.contextStorageStatus, atLeast: 1).map(\.cost) == [rent(1_800)])
        client = try await RawHTTPClient.connect(port: h.gateway.port)

        #expect(try await client.request("GET", "/v1beta/\(name)", headers: theirs)?.status == 404)
        #expect(try await client.request("DELETE", "/v1beta/\(name)", headers: theirs)?.status == 404)
        let theirList = try await client.request("GET", "/v1beta/cachedContents", headers: theirs)
        #expect(theirList?.json?["cachedContents"]?.arrayValue?.isEmpty == true)
        let read = try await client.request("GET", "/v1beta/\(name)", headers: mine)
        #expect(read?.status == 200)
        #expect(read?.json?["name"]?.stringValue == name)
        let list = try await client.request("GET", "/v1beta/cachedContents", headers: mine)
        #expect(list?.json?["cachedContents"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [name])

        // 600 s in, an hour from now: paid through 1,800 s, so the new period starts there.
        h.advance(seconds: 600)
        let patched = try await client.request("PATCH", "/v1beta/\(name)", body: #"{"ttl":"3600s"}"#, headers: mine)
        #expect(patched?.status == 200, "\(patched?.text ?? "")")
        // Deleted at 2,400 s: 600 s of the new period used.
        h.advance(seconds: 1_800)
        #expect(try await client.request("DELETE", "/v1beta/\(name)", headers: mine)?.status == 200)
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 2)
        let costs: [Int64] = storage.map(\.cost.value).sorted()
        let expected: [Int64] = [rent(600).value, rent(1_800).value].sorted()
        #expect(costs == expected)
        #expect(h.fake.cachedContents.live.isEmpty)
        #expect(try await client.request("GET", "/v1beta/\(name)", headers: mine)?.status == 404)
        await client.close()
        try await h.stop()
    }

    /// The longest life a create may ask for (999,999,999 s, about 32 years) on the dearest
    /// storage: its rent is worked out without overflowing (it had trapped and taken the gateway
    /// down), it is more than the team's budget holds, so the create is refused before Gemini
    /// sees it, and the gateway goes on answering.
    @Test(arguments: ["models/gemini-3.5-flash", "models/gemini-2.5-pro"])
    func theLongestLifeACreateMayAskForIsPricedNotATrap(_ model: String) async throws {
        let h = try await H.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let body = Self.createBody
            .replacingOccurrences(of: #""ttl":"1800s""#, with: #""ttl":"999999999s""#)
            .replacingOccurrences(of: "models/gemini-3.5-flash", with: model)
        let created = try await client.request(
            "POST", "/v1beta/cachedContents", body: body, headers: [("x-goog-api-key", ContextCacheTests.key)])
        #expect(created?.status == 429)
        #expect(created?.json?["error"]?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
        #expect(h.creates().isEmpty)
        #expect(try await client.request("GET", "/healthz")?.status == 200)
        await client.close()
        try await h.stop()
    }

    /// A cache of a Files API video is a million tokens in a few bytes: reserved at a token a
    /// byte it passed a $1 budget and was billed $24.60. It is reserved on the bound a prompt
    /// gets (a `fileData` part is the whole context window), which the budget cannot hold.
    @Test func aCreateOfAFileIsReservedOnTheContextWindowNotItsBytes() async throws {
        let h = try await H.start { config in
            config.teams[0].budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "1")!)]
        }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let body =
            #"{"model":"models/gemini-3.5-flash","contents":[{"role":"user","parts":[{"fileData":{"fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc","mimeType":"video/mp4"}}]}],"ttl":"86400s"}"#
        let refused = try await client.request(
            "POST", "/v1beta/cachedContents", body: body, headers: [("x-goog-api-key", ContextCacheTests.key)])
        #expect(refused?.status == 429)
        #expect(h.creates().isEmpty)
        await client.close()
        try await h.stop()
    }

    /// A create's life in either spelling Gemini reads: `expire_time` had been taken as no
    /// lifetime at all, so a cache Gemini keeps (and bills) until 2036 was reserved an hour and
    /// dropped from the book after one. Both named, or a value of another type, is refused.
    @Test func aCreatesLifeIsReadInEitherSpellingAndAmbiguityIsRefused() throws {
        let now: Int64 = 1_800_000_000_000  // 2027-01-15T08:00:00Z
        func life(_ json: String) throws -> Int64? {
            CachedContents.lifetime(try JSONParser.parse(Array(json.utf8)), nowMs: now)
        }
        #expect(try life(#"{"expire_time":"2027-01-15T10:00:00Z"}"#) == 7200)
        #expect(try life(#"{"expireTime":"2027-01-15T10:00:00.5Z"}"#) == 7201)  // a part second is rented whole
        #expect(try life(#"{"ttl":"90s"}"#) == 90)
        #expect(try life(#"{}"#) == 3600)
        #expect(try life(#"{"ttl":"90s","expire_time":"2027-01-15T10:00:00Z"}"#) == nil)
        #expect(try life(#"{"expireTime":"2027-01-15T10:00:00Z","expire_time":"2027-01-15T10:00:00Z"}"#) == nil)
        #expect(try life(#"{"ttl":90}"#) == nil)
        #expect(try life(#"{"expire_time":"9999-12-31T00:00:00Z"}"#) == nil)
    }

    @Test func aCreateTheBudgetCannotHoldNeverReachesGemini() async throws {
        let h = try await H.start { config in
            config.teams[0].budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "0.01")!)]
        }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let body = Self.createBody.replacingOccurrences(of: #""ttl":"1800s""#, with: #""ttl":"86400s""#)
        let refused = try await client.request(
            "POST", "/v1beta/cachedContents", body: body, headers: [("x-goog-api-key", ContextCacheTests.key)])
        #expect(refused?.status == 429)
        #expect(refused?.json?["error"]?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
        #expect(h.creates().isEmpty)
        await client.close()
        try await h.stop()
    }
}
