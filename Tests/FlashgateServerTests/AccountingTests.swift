import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Synchronization
import Testing

@testable import FlashgateServer

/// Teams, keys, rate limits and budgets on the request path, with the real ledger in a temp
/// directory, real libcurl and FakeGemini.
@Suite struct AccountingTests {
    static let key = "fg-test-key-0123456789"

    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory

        var ledger: Ledger { gateway.running.gateway.accountant.ledger! }

        static func start(
            budgetUSD: String = "1.00", configure: (inout FlashgateConfig) -> Void = { _ in },
            nowMilliseconds: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
            accessLog: (@Sendable (String) -> Void)? = nil, log: (@Sendable (String) -> Void)? = nil
        ) async throws -> Harness {
            let fake = try await FakeGemini.start()
            var config = FlashgateConfig(routes: [
                RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
            ])
            var team = TeamConfig(id: "search")
            team.maxOutputTokens = 64
            team.budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: budgetUSD)!)]
            config.teams = [team]
            config.keys = [KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex(AccountingTests.key))]
            config.accounting.adminKey = Secret("admin-secret")
            // One attempt: these tests show what a single upstream answer does; retries have their own suite.
            config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            configure(&config)
            let directory = try TempDirectory()
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(
                config: config, http: curl, storeDirectory: directory.path, nowMilliseconds: nowMilliseconds,
                accessLog: accessLog, log: log, priceMadeUpModels: false)
            return Harness(fake: fake, curl: curl, gateway: gateway, directory: directory)
        }

        func stop(keepingStore: Bool = false) async throws {
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
            if !keepingStore { directory.remove() }
        }

        /// Waits (yielding, never sleeping) until the ledger holds `count` request rows.
        func rows(atLeast count: Int) async throws -> [SettlementRecord] {
            while true {
                let rows = try ledger.requestRows()
                if rows.count >= count { return rows }
                await Task.yield()
            }
        }

        /// Waits until the ledger holds `count` requests, rows and counted (cache hits, joined
        /// followers) alike, and returns them as records, rollups standing for their counts.
        func requests(atLeast count: Int) async throws -> [SettlementRecord] {
            while true {
                await ledger.flushCounters()
                let records = try ledger.usageRecords()
                if records.reduce(0, { $0 + $1.requests }) >= count { return records }
                await Task.yield()
            }
        }
    }

    static func chat(_ text: String, maxTokens: Int = 16) -> String {
        #"{"model":"gemini-3.5-flash","max_tokens":\#(maxTokens),"messages":[{"role":"user","content":"\#(text)"}]}"#
    }

    static let auth = [("authorization", "Bearer \(key)"), ("cache-control", "no-store")]

    @Test func unknownOrMissingIdentityIs401InTheCallersDialect() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let missing = try await client.request("POST", "/v1/chat/completions", body: Self.chat("x"))
        #expect(missing?.status == 401)
        #expect(missing?.json?["error"]?["type"]?.stringValue == "authentication_error")
        let wrong = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("x"), headers: [("authorization", "Bearer fg-not-a-key-secret")])
        #expect(wrong?.status == 401)
        #expect(wrong?.text.contains("fg-not-a-key-secret") == false)
        let native = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: #"{"contents":[{"parts":[{"text":"x"}]}]}"#,
            headers: [("x-goog-api-key", "nope")])
        #expect(native?.json?["error"]?["status"]?.stringValue == "UNAUTHENTICATED")
        let count = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:countTokens", body: #"{"contents":[{"parts":[{"text":"x"}]}]}"#)
        #expect(count?.status == 401)
        let embed = try await client.request(
            "POST", "/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":"x"}"#)
        #expect(embed?.status == 401)
        #expect(h.fake.requestCount == 0)
        await client.close()
        try await h.stop()
    }

    @Test func everyAnswerSaysWhatItCostAndTheLedgerAgrees() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat("hello"), headers: Self.auth)
        #expect(response?.status == 200)
        // FakeGemini reports 5 prompt and 3 output tokens: 5 × $1.50/M + 3 × $9.00/M = 34.5 µ$ → 35.
        #expect(response?.header("x-flashgate-cost-usd") == "0.000035")
        #expect(response?.header("x-flashgate-service-tier") == "standard")
        #expect(response?.json?["usage"]?["cost"] == .number("0.000035"))
        #expect(response?.json?["service_tier"]?.stringValue == "default")
        #expect(response?.header("x-flashgate-budget-remaining-usd") != nil)
        let rows = try await h.rows(atLeast: 1)
        #expect(rows.first?.cost == MicroUSD(35))
        #expect(rows.first?.team == "search" && rows.first?.key == "ci" && rows.first?.serviceTier == "standard")
        #expect(h.ledger.totals(prefix: "team:search").values.contains(MicroUSD(35)))

        let stream = try await client.request(
            "POST", "/v1/chat/completions",
            body: #"{"model":"gemini-3.5-flash","max_tokens":8,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"s"}]}"#,
            headers: Self.auth)
        #expect(stream?.text.contains(#""cost":0.000035"#) == true)
        await client.close()
        try await h.stop()
    }

    @Test func budgetsHoldUnderSixtyFourConcurrentClients() async throws {
        // A tiny budget: each call reserves its worst case (prompt bytes + max_tokens as output).
        let h = try await Harness.start(budgetUSD: "0.004")
        var rng = SeededRandom(seed: 42)
        for _ in 0..<64 {
            let output = Int.random(in: 1...4, using: &rng)
            h.fake.enqueue(
                .json(
                    #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":\#(output),"totalTokenCount":\#(2 + output)}}"#
                ))
        }
        let bodies = (0..<64).map { i in Self.chat("q\(i)", maxTokens: Int.random(in: 4...64, using: &rng)) }
        // Settled spend plus open leases stays within the limit at every instant, on disk (one
        // snapshot of totals, then the leases: a commit in between can only lower the sum) and
        // in memory; sampled for as long as the clients run.
        let budgets = h.gateway.running.gateway.accountant.budgets
        let ledger = h.ledger
        let running = Mutex(true)
        let sampler = Task {
            var samples = 0
            var worst = MicroUSD.zero
            while running.withLock({ $0 }) || samples == 0 {
                let settled = ledger.totals(prefix: "team:search:day").values.reduce(MicroUSD.zero, +)
                let leased = try ledger.openLeases().filter { $0.budgetKeys.contains { $0.hasPrefix("team:search:day") } }
                    .reduce(MicroUSD.zero) { $0 + $1.amount }
                worst = max(worst, settled + leased)
                for status in budgets.all(now: Date()) { worst = max(worst, status.settled + status.leased) }
                samples += 1
                await Task.yield()
            }
            return (samples, worst)
        }
        let responses = try await withThrowingTaskGroup(of: RawHTTPClient.Response?.self) { group in
            for body in bodies {
                group.addTask {
                    let client = try await RawHTTPClient.connect(port: h.gateway.port)
                    defer { Task { await client.close() } }
                    return try await client.request("POST", "/v1/chat/completions", body: body, headers: Self.auth)
                }
            }
            var all: [RawHTTPClient.Response?] = []
            for try await response in group { all.append(response) }
            return all
        }
        running.withLock { $0 = false }
        let (samples, worst) = try await sampler.value
        #expect(samples > 0 && worst <= MicroUSD(4000), "settled + leased reached \(worst) µ$ in \(samples) samples")
        let admitted = responses.filter { $0?.status == 200 }
        let rejected = responses.filter { $0?.status == 429 }
        #expect(admitted.count + rejected.count == 64)
        #expect(!rejected.isEmpty, "the budget is small enough that some calls must be refused")
        for response in rejected {
            #expect(response?.json?["error"]?["type"]?.stringValue == "insufficient_quota")
            #expect(response?.json?["error"]?["message"]?.stringValue?.contains("team:search:day") == true)
            #expect(response?.header("retry-after") != nil)
        }
        let rows = try await h.rows(atLeast: admitted.count)
        let settled = rows.reduce(MicroUSD.zero) { $0 + $1.cost }
        #expect(settled <= MicroUSD(4000))
        let charged = admitted.compactMap { $0?.header("x-flashgate-cost-usd") }.compactMap { MicroUSD(dollars: $0) }
        #expect(charged.reduce(MicroUSD.zero, +) == settled)
        try await h.stop(keepingStore: true)
        // A clean stop hands every lease back: the ledger holds exactly what was charged.
        let reopened = try Ledger.open(directory: h.directory.path + "/ledger", maxSizeBytes: 1 << 30)
        #expect(try reopened.openLeases().isEmpty)
        #expect(reopened.totals(prefix: "team:search:day").values.reduce(MicroUSD.zero, +) == settled)
        reopened.close()
        h.directory.remove()
    }

    @Test func upstreamErrorsCostNothingAndDisconnectsCostTheReservation() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        h.fake.enqueue(.googleError(status: 500, message: "boom", googleStatus: "INTERNAL"))
        #expect(try await client.request("POST", "/v1/chat/completions", body: Self.chat("a"), headers: Self.auth)?.status == 500)
        let first = try await h.rows(atLeast: 1)
        #expect(first[0].cost == .zero && first[0].outcome == "upstream_error")

        let gate = FakeGate()
        var held = FakeReply.json(#"{"candidates":[]}"#)
        held.gate = gate
        h.fake.enqueue(held)
        let leaving = try await RawHTTPClient.connect(port: h.gateway.port)
        try await leaving.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: Self.chat("b", maxTokens: 10), headers: Self.auth))
        await h.fake.waitForRequests(2)
        await leaving.close()
        let rows = try await h.rows(atLeast: 2)
        let cut = try #require(rows.first { $0.outcome == "incomplete" })
        // Never $0: the worst case of 1 prompt byte (+ markers) and 10 output tokens.
        #expect(cut.cost > .zero)
        gate.open()
        await client.close()
        try await h.stop()
    }

    @Test func unixSocketPeersAreIdentifiedByTheirUID() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let socket = dir.file("s.sock")
        let h = try await Harness.start { config in
            config.teams[0].unixUIDs = [getuid()]
            config.listen.host = nil
            config.listen.socketPath = socket
        }
        let client = try await RawHTTPClient.connect(unixSocket: socket)
        let response = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("peer"), headers: [("cache-control", "no-store")])
        #expect(response?.status == 200)
        let rows = try await h.rows(atLeast: 1)
        #expect(rows[0].team == "search" && rows[0].key == "")
        await client.close()
        try await h.stop()
    }

    @Test func adminAPIReportsUsageAndBudgets() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        _ = try await client.request("POST", "/v1/chat/completions", body: Self.chat("admin"), headers: Self.auth)
        _ = try await h.rows(atLeast: 1)
        #expect(try await client.request("GET", "/admin/usage")?.status == 401)
        let usage = try await client.request("GET", "/admin/usage", headers: [("authorization", "Bearer admin-secret")])
        #expect(usage?.json?["data"]?[0]?["team"]?.stringValue == "search")
        #expect(usage?.json?["data"]?[0]?["requests"]?.intValue == 1)
        let budgets = try await client.request("GET", "/admin/budgets", headers: [("authorization", "Bearer admin-secret")])
        #expect(budgets?.json?["data"]?[0]?["budget"]?.stringValue == "team:search:day")
        #expect(budgets?.json?["data"]?[0]?["limit_usd"] == .number("1.000000"))
        await client.close()
        try await h.stop()
    }

    /// `days` counts whole UTC days, as `flashgate usage --days` does: half an hour after
    /// midnight, `days=1` is today only and `days=2` adds yesterday. It had been days × 24 hours
    /// back, so `days=1` also answered yesterday's last hours, as a day of its own.
    @Test func usageDaysAreWholeUTCDays() async throws {
        let day: Int64 = 86_400_000
        let midnight = (Int64(Date().timeIntervalSince1970 * 1000) / day) * day
        let now = Mutex(midnight - 3_600_000)
        let h = try await Harness.start(nowMilliseconds: { now.withLock { $0 } })
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        _ = try await client.request("POST", "/v1/chat/completions", body: Self.chat("late"), headers: Self.auth)
        _ = try await h.rows(atLeast: 1)
        now.withLock { $0 = midnight + 1_800_000 }
        _ = try await client.request("POST", "/v1/chat/completions", body: Self.chat("early"), headers: Self.auth)
        _ = try await h.rows(atLeast: 2)
        let admin = [("authorization", "Bearer admin-secret")]
        func days(_ n: Int) async throws -> [Int] {
            let usage = try await client.request("GET", "/admin/usage?days=\(n)", headers: admin)
            return (usage?.json?["data"]?.arrayValue ?? []).compactMap { $0["requests"]?.intValue }
        }
        #expect(try await days(1) == [1], "today so far")
        #expect(try await days(2).reduce(0, +) == 2, "today and yesterday")
        await client.close()
        try await h.stop()
    }

    /// `days` is a whole number of days the ledger can hold: anything else is a 400 naming it.
    /// A count past what milliseconds can hold had overflowed and taken the gateway down.
    @Test func usageDaysOutsideTheirRangeAreRefusedNotATrap() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let admin = [("authorization", "Bearer admin-secret")]
        for days in ["9223372036854775807", "-9223372036854775807", "0", "-1", "36501", "seven", ""] {
            let refused = try await client.request("GET", "/admin/usage?days=\(days)", headers: admin)
            #expect(refused?.status == 400, "days=\(days): \(refused?.text ?? "no answer")")
            #expect(refused?.json?["error"]?["message"]?.stringValue?.contains("days") == true)
        }
        for days in ["1", "36500"] {
            #expect(try await client.request("GET", "/admin/usage?days=\(days)", headers: admin)?.status == 200)
        }
        #expect(try await client.request("GET", "/healthz")?.status == 200)
        await client.close()
        try await h.stop()
    }
}
