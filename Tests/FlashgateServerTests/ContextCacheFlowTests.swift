import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// The issue's "Done when", each as a test against FakeGemini.
extension ContextCacheTests {
    typealias H = ContextCacheTests.Harness

    /// What Google bills for a request: uncached prompt at the input rate, cached at the cached
    /// rate, output at the output rate (3.5 Flash: $1.50, $0.15, $9.00 per 1M), rounded up.
    static func billed(prompt: Int, cached: Int, output: Int) -> MicroUSD {
        MicroUSD(
            (Int64(prompt - cached) * 1_500_000 + Int64(cached) * 150_000 + Int64(output) * 9_000_000 + 999_999)
                / 1_000_000)
    }

    @Test func aSharedPrefixBecomesOneCacheThatLaterRequestsReadWithoutSendingItAgain() async throws {
        let h = try await H.start()
        // The first read of the prefix does not pay for a cache; the second does (two reads an hour
        // save 27,000 µ$ against 15,000 µ$ creation and 10,000 µ$ rent).
        #expect(try await h.generate("q1").status == 200)
        #expect(h.creates().isEmpty)
        #expect(try await h.generate("q2").status == 200)
        await h.waitForLive(1)
        #expect(h.creates().count == 1)
        let created = try #require(h.fake.cachedContents.live.first)
        #expect(created.owner == "k")
        #expect(created.body["systemInstruction"] != nil && created.body["tools"] != nil)
        #expect(created.body["contents"] == nil)

        // Later requests read it and carry no system instruction or tools.
        for question in ["q3", "q4", "q5"] {
            let response = try await h.generate(question)
            #expect(response.status == 200)
            let sent = try #require(h.generations().last?.bodyJSON)
            #expect(sent["cachedContent"]?.stringValue == created.name)
            #expect(sent["systemInstruction"] == nil && sent["tools"] == nil && sent["toolConfig"] == nil)
            #expect(sent["contents"]?[0]?["parts"]?[0]?["text"]?.stringValue == question)
            // The cost is what Google bills: cached tokens at the cached rate.
            let usage = try #require(response.json?["usageMetadata"])
            #expect(usage["cachedContentTokenCount"]?.intValue == created.tokens)
            let prompt = try #require(usage["promptTokenCount"]?.intValue)
            let cost = Self.billed(prompt: prompt, cached: created.tokens, output: 3)
            #expect(response.header("x-flashgate-cost-usd") == cost.dollars)
        }
        #expect(h.creates().count == 1)
        // The prefix's statistics are kept in LMDB: five reads, its tokens, no implicit hits.
        let prefix = try #require(
            ContextPrefix(
                body: try JSONParser.parse(Array(ContextCacheTests.body("any").utf8)), scope: "team:search",
                model: "gemini-3.5-flash", route: "studio"))
        let remembered = try #require(h.book.remembered(prefix.key))
        #expect(
            remembered.reads == 5 && remembered.implicitPermille == 0
                && remembered.lastSeenMs == ContextCacheTests.start)
        #expect(remembered.tokens > 9_900 && remembered.tokens <= created.tokens)

        // The creation is billed as input; the rent, by the hour it lived, once it expires.
        let create = try await h.rows(Accountant.contextCreateStatus, atLeast: 1)
        #expect(create.map(\.cost) == [MicroUSD((Int64(created.tokens) * 1_500_000 + 999_999) / 1_000_000)])
        #expect(create.first?.team == "search")
        h.advance(seconds: 3_601)
        #expect(try await h.generate("q6").status == 200)
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        // 1M tokens·hour cost $1.00 on Flash: the rent of an hour is one µ$ per token.
        #expect(storage.map(\.cost) == [MicroUSD(Int64(created.tokens))])
        #expect(storage.first?.team == "search")
        let expired = try #require(h.generations().last?.bodyJSON)
        #expect(expired["cachedContent"] == nil && expired["systemInstruction"] != nil)
        try await h.stop()
    }

    @Test func aCacheGeminiNoLongerKnowsIsForgottenAndTheRequestRetriedUncached() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let name = try #require(h.fake.cachedContents.live.first?.name)
        let tokens = try #require(h.fake.cachedContents.live.first?.tokens)
        h.fake.cachedContents.remove(name)
        h.advance(seconds: 1_800)
        let before = h.generations().count
        let response = try await h.generate("q3")
        #expect(response.status == 200)
        let sent = h.generations().dropFirst(before).compactMap(\.bodyJSON)
        #expect(sent.count == 2)
        #expect(sent.first?["cachedContent"]?.stringValue == name)
        #expect(sent.last?["cachedContent"] == nil && sent.last?["systemInstruction"] != nil)
        #expect(h.book.snapshot.live == 0)
        // It lived half an hour: half an hour of rent.
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        #expect(storage.map(\.cost) == [MicroUSD(Int64(tokens) / 2)])
        try await h.stop()
    }

    @Test func anotherTeamNeverReadsTheFirstTeamsCache() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let response = try await h.generate("from other", key: ContextCacheTests.otherKey)
        #expect(response.status == 200)
        let sent = try #require(h.generations().last?.bodyJSON)
        #expect(sent["cachedContent"] == nil && sent["systemInstruction"] != nil)
        #expect(h.creates().count == 1)
        // Nor by naming it.
        let name = try #require(h.fake.cachedContents.live.first?.name)
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let named = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"cachedContent":"\#(name)","contents":[{"role":"user","parts":[{"text":"x"}]}]}"#,
            headers: [("x-goog-api-key", ContextCacheTests.otherKey)])
        #expect(named?.status == 404)
        #expect(named?.json?["error"]?["status"]?.stringValue == "NOT_FOUND")
        await client.close()
        try await h.stop()
    }

    @Test func concurrentFirstRequestsCreateOneCache() async throws {
        let h = try await H.start()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 { group.addTask { try await h.generate("concurrent \(index)").status } }
            for try await status in group { #expect(status == 200) }
        }
        await h.waitForLive(1)
        #expect(h.creates().count == 1)
        #expect(h.fake.cachedContents.createdCount == 1)
        try await h.stop()
    }

    @Test func aPrefixReadTooRarelyIsNeverCached() async throws {
        let h = try await H.start()
        // Flash-Lite reads save 900 µ$ each against 11,000 µ$ of creation and rent: 12 reads in
        // an hour do not pay.
        for index in 0..<12 {
            #expect(try await h.generate("lite \(index)", model: "gemini-2.5-flash-lite").status == 200)
        }
        // On 3.5 Flash, reads an hour apart never make two in the window.
        for index in 0..<3 {
            #expect(try await h.generate("rare \(index)").status == 200)
            h.advance(seconds: 3_601)
        }
        #expect(h.creates().isEmpty)
        #expect(h.book.snapshot.created == 0)
        try await h.stop()
    }

    @Test func theHeaderAndTheTeamSwitchTurnItOff() async throws {
        let h = try await H.start { config in config.teams[1].contextCache = false }
        for index in 0..<4 {
            _ = try await h.generate("off \(index)", headers: [("x-flashgate-context-cache", "off")])
            _ = try await h.generate("other \(index)", key: ContextCacheTests.otherKey)
        }
        #expect(h.creates().isEmpty)
        try await h.stop()
    }

    @Test func failoverSendsTheFullPrefixToTheOtherRoute() async throws {
        let h = try await H.start { config in
            ContextCacheTests.addBackupRoute(&config)
        }
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        h.fake.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        let before = h.generations().count
        #expect(try await h.generate("q3").status == 200)
        let sent = h.generations().dropFirst(before)
        #expect(sent.count == 2)
        #expect(sent.first?.bodyJSON?["cachedContent"] != nil && sent.first?.header("x-goog-api-key") == "k")
        #expect(sent.last?.bodyJSON?["cachedContent"] == nil && sent.last?.bodyJSON?["systemInstruction"] != nil)
        #expect(sent.last?.header("x-goog-api-key") == "k2")
        try await h.stop()
    }

    @Test func aClientManagedCachePassesThroughUntouched() async throws {
        let h = try await H.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        for index in 0..<3 {
            let body =
                #"{"cachedContent":"cachedContents/mine","contents":[{"role":"user","parts":[{"text":"q\#(index)"}]}]}"#
            _ = try await client.request(
                "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: body,
                headers: [("x-goog-api-key", ContextCacheTests.key)])
            #expect(h.generations().last?.bodyJSON?["cachedContent"]?.stringValue == "cachedContents/mine")
        }
        #expect(h.creates().isEmpty)
        await client.close()
        try await h.stop()
    }

    @Test func aCacheReadOftenIsKeptAliveAndEachRentPeriodSettledByTheTimeItCovered() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let cache = try #require(h.fake.cachedContents.live.first)
        // In its second half-life, a read that pays the rent extends it by a ttl from now.
        h.advance(seconds: 1_860)
        #expect(try await h.generate("q3").status == 200)
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        let patches = h.fake.received.filter { $0.method == "PATCH" }
        #expect(patches.count == 1)
        #expect(
            patches.first?.path == "/v1beta/\(cache.name)" && patches.first?.bodyJSON?["ttl"]?.stringValue == "3600s")
        #expect(patches.first?.header("x-goog-api-key") == "k")
        // The period it leaves: 31 minutes of rent.
        #expect(storage.map(\.cost) == [MicroUSD((Int64(cache.tokens) * 1_860 + 3_599) / 3_600)])
        // Past its first expiry it still serves, on Gemini's side too.
        h.advance(seconds: 3_000)
        let response = try await h.generate("q4")
        #expect(response.status == 200)
        #expect(h.generations().last?.bodyJSON?["cachedContent"]?.stringValue == cache.name)
        #expect(h.creates().count == 1)
        try await h.stop()
    }

    @Test func theResponseCacheStillAnswersARepeatOfARequestSentOnAContextCache() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let first = try await h.generate("same question")
        #expect(first.header("x-flashgate-cache") == "miss")
        #expect(h.generations().last?.bodyJSON?["cachedContent"] != nil)
        var repeated = try await h.generate("same question")
        // The answer is written to the response cache off the response path: repeat until it answers.
        for _ in 0..<1_000 where repeated.header("x-flashgate-cache") != "hit" {
            await Task.yield()
            repeated = try await h.generate("same question")
        }
        #expect(repeated.header("x-flashgate-cache") == "hit")
        #expect(repeated.header("x-flashgate-cost-usd") == "0.000000")
        try await h.stop()
    }

    @Test func metricsShowLiveCachesReadsRentAndTheNetSaving() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let tokens = Int64(try #require(h.fake.cachedContents.live.first?.tokens))
        _ = try await h.generate("q3")
        _ = try await h.generate("q4")
        h.advance(seconds: 3_601)
        _ = try await h.generate("q5")
        _ = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let text = String(decoding: try #require(try await client.request("GET", "/metrics")).body, as: UTF8.self)
        func value(_ name: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap {
                Double($0.split(separator: " ")[1])
            }
        }
        #expect(value("flashgate_context_caches_live") == 0)
        #expect(value("flashgate_context_cache_read_tokens") == Double(2 * tokens))
        // Two reads save (1.50 - 0.15) $/1M each; creation costs 1.50 $/1M, an hour's rent 1.00 $/1M.
        let rent = tokens
        let creation = (tokens * 1_500_000 + 999_999) / 1_000_000
        let net = (2 * tokens * 1_350_000 - creation * 1_000_000 - rent * 1_000_000) / 1_000_000
        #expect(value("flashgate_context_cache_storage_usd") == Double(rent) / 1_000_000)
        #expect(value("flashgate_context_cache_net_saved_usd") == Double(net) / 1_000_000)
        // The usage report: the team's creation and rent, and what its cached reads saved after them.
        let usage = try await client.request("GET", "/admin/usage", headers: [("authorization", "Bearer admin-secret")])
        let row = try #require(
            usage?.json?["data"]?.arrayValue?.first { $0["model"]?.stringValue == "gemini-3.5-flash" })
        #expect(row["team"]?.stringValue == "search")
        #expect(row["cached_tokens"]?.intValue == Int(2 * tokens))
        #expect(row["context_cache_usd"] == .number(MicroUSD(creation + rent).dollars))
        #expect(
            row["context_saved_usd"] == .number(MicroUSD(2 * tokens * 1_350_000 / 1_000_000 - creation - rent).dollars))
        // The dashboard's cache panel shows the same.
        let dashboard = try await client.request(
            "GET", "/admin/dashboard.json?hours=24", headers: [("authorization", "Bearer admin-secret")])
        let cache = try #require(dashboard?.json?["cache"])
        #expect(cache["context_cached_tokens"]?.intValue == Int(2 * tokens))
        #expect(cache["context_cost_usd"]?.stringValue == MicroUSD(creation + rent).dollars)
        #expect(
            cache["context_saved_usd"]?.stringValue
                == MicroUSD(2 * tokens * 1_350_000 / 1_000_000 - creation - rent).dollars)
        await client.close()
        try await h.stop()
    }

    @Test(arguments: [LedgerConfig.Durability.lease, .perRequest])
    func theRentIsSettledOnceUnderEitherLedgerDurability(_ durability: LedgerConfig.Durability) async throws {
        let h = try await H.start { config in config.ledger.durability = durability }
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let tokens = Int64(try #require(h.fake.cachedContents.live.first?.tokens))
        h.advance(seconds: 7_200)
        _ = try await h.generate("q3")
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        #expect(storage.map(\.cost) == [MicroUSD(tokens)])
        // Nothing is left reserved: the day's budget shows exactly what was settled. Rows of paced
        // commits may still be held (`ledger.commit_interval`): flushed first, as reports do.
        await h.ledger.flushCounters()
        let settled = try h.ledger.requestRows().reduce(MicroUSD.zero) { $0 + $1.cost }
        let status = try #require(
            h.gateway.running.gateway.accountant.budgets.remaining(
                caller: Caller(team: "search"), now: h.gateway.running.gateway.accountant.now
            ).first)
        #expect(status.remaining == MicroUSD(10_000_000) - settled)
        try await h.stop()
    }

    /// A create answer without its token count was charged nothing for the creation and rent
    /// of nothing; it is charged the bound it was reserved on, which holds the real count.
    @Test func aCreateAnswerWithoutItsTokenCountIsChargedTheReservedBound() async throws {
        let h = try await H.start()
        h.fake.cachedContents.setCreateReport(.omitted)
        #expect(try await h.generate("q1").status == 200)
        #expect(try await h.generate("q2").status == 200)
        await h.waitForLive(1)
        let tokens = try #require(h.fake.cachedContents.live.first?.tokens)
        let create = try await h.rows(Accountant.contextCreateStatus, atLeast: 1)
        #expect(create.first.map { $0.cost >= MicroUSD((Int64(tokens) * 1_500_000 + 999_999) / 1_000_000) } == true)
        try await h.stop()
    }

    /// A create answer claiming more tokens than Int64 holds: charged as the most a call can
    /// bill, and the live caches' token total (the metrics) does not overflow; it had trapped.
    @Test func aCreateAnswerWithAnAbsurdCountIsNotATrap() async throws {
        let h = try await H.start()
        h.fake.cachedContents.setCreateReport(.literal("9223372036854775807"))
        #expect(try await h.generate("q1").status == 200)
        #expect(try await h.generate("q2").status == 200)
        await h.waitForLive(1)
        #expect(h.book.snapshot.tokens == BillableUsage.maxTokens)
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        #expect(try await client.request("GET", "/metrics")?.status == 200)
        await client.close()
        try await h.stop()
    }

    /// The create call names no tier, so its creation is billed at standard even when the calls
    /// that made the prefix pay ran at priority (it had been priced at their tier).
    @Test func aCacheIsCreatedAtTheStandardPriceWhateverTierItsCallsRanAt() async throws {
        let h = try await H.start()
        #expect(try await h.generate("q1", tier: "priority").status == 200)
        #expect(try await h.generate("q2", tier: "priority").status == 200)
        await h.waitForLive(1)
        let tokens = try #require(h.fake.cachedContents.live.first?.tokens)
        let create = try await h.rows(Accountant.contextCreateStatus, atLeast: 1)
        #expect(create.map(\.cost) == [MicroUSD((Int64(tokens) * 1_500_000 + 999_999) / 1_000_000)])
        #expect(create.first?.serviceTier == "standard")
        try await h.stop()
    }

    @Test func aCacheTheBudgetCannotHoldIsNeverCreatedAndTheBudgetHolds() async throws {
        // Strict: each request reserves about 0.061 $ (a token per byte of its 40 KB prompt, 64
        // output tokens) and settles at about 0.015 $; the cache would reserve its creation and an
        // hour's rent on the same bound, about 0.10 $, more than the 0.09 $ left after two requests.
        let h = try await H.start { config in
            config.teams[0].budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "0.12")!)]
        }
        for index in 0..<3 { #expect(try await h.generate("tight \(index)").status == 200) }
        #expect(h.creates().isEmpty)
        #expect(h.book.snapshot.live == 0)
        let spent = try h.ledger.requestRows().reduce(MicroUSD.zero) { $0 + $1.cost }
        #expect(spent <= MicroUSD(dollars: "0.12")!)
        try await h.stop()
    }

    @Test func aPrefixImplicitCachingAlreadyServesIsNotCachedExplicitly() async throws {
        let h = try await H.start()
        // Gemini reports 95 % of the prefix served from its implicit cache: on 3.5 Flash an explicit
        // cache then pays only from 37 reads an hour (context-caching.md §9), so ten never do.
        h.fake.cachedContents.setImplicitHits(permille: 950)
        for index in 0..<10 {
            let response = try await h.generate("implicit \(index)")
            #expect(response.json?["usageMetadata"]?["cachedContentTokenCount"]?.intValue ?? 0 > 9_000)
        }
        #expect(h.creates().isEmpty)
        // Without implicit hits, the same traffic creates one.
        h.fake.cachedContents.setImplicitHits(permille: 0)
        _ = try await h.generate("explicit 1")
        _ = try await h.generate("explicit 2")
        await h.waitForLive(1)
        #expect(h.creates().count == 1)
        try await h.stop()
    }

    @Test func aStreamReadsTheCacheToo() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let name = try #require(h.fake.cachedContents.live.first?.name)
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let stream = try #require(
            try await client.request(
                "POST", "/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse",
                body: ContextCacheTests.body("streamed"), headers: [("x-goog-api-key", ContextCacheTests.key)]))
        #expect(stream.status == 200)
        #expect(String(decoding: stream.body, as: UTF8.self).contains("cachedContentTokenCount"))
        let sent = try #require(h.fake.received.last?.bodyJSON)
        #expect(sent["cachedContent"]?.stringValue == name && sent["systemInstruction"] == nil)
        await client.close()
        try await h.stop()
    }

    @Test func aCacheThatExpiresWhileACallIsInFlightStillHasItsRentSettled() async throws {
        let h = try await H.start()
        _ = try await h.generate("q1")
        _ = try await h.generate("q2")
        await h.waitForLive(1)
        let cache = try #require(h.fake.cachedContents.live.first)
        // Ten seconds before it expires a call goes out on it; Gemini answers twenty seconds later,
        // after the expiry and within the minute in which no sweep runs.
        h.advance(seconds: 3_590)
        let gate = FakeGate()
        var reply = FakeReply.json(
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP","index":0}],"#
                + #""usageMetadata":{"promptTokenCount":\#(cache.tokens + 5),"candidatesTokenCount":3,"#
                + #""totalTokenCount":\#(cache.tokens + 8),"cachedContentTokenCount":\#(cache.tokens)}}"#)
        reply.gate = gate
        h.fake.enqueue(reply)
        let before = h.fake.requestCount
        let call = Task { try await h.generate("q3").status }
        await h.fake.waitForRequests(before + 1)
        #expect(h.generations().last?.bodyJSON?["cachedContent"]?.stringValue == cache.name)
        h.advance(seconds: 20)
        gate.open()
        #expect(try await call.value == 200)
        // The cache left the book when the answer was observed; its hour of rent is still settled.
        let storage = try await h.rows(Accountant.contextStorageStatus, atLeast: 1)
        #expect(storage.map(\.cost) == [MicroUSD(Int64(cache.tokens))])
        #expect(h.book.snapshot.live == 0)
        try await h.stop()
    }
}
