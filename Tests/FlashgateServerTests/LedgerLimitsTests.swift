import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Synchronization
import Testing

@testable import FlashgateServer

/// The ledger's limits seen from a client: a nearly full ledger refuses paid calls with a 503
/// in the caller's dialect and never answers one it cannot record; Flashgate starts on a full
/// ledger; a stalled disk fills a bounded queue, then refuses, then settles everything. Real
/// LMDB in temp directories, real libcurl, FakeGemini.
@Suite struct LedgerLimitsTests {
    static let auth = AccountingTests.auth
    static let chat = AccountingTests.chat("full?")
    static let native = "/v1beta/models/gemini-3.5-flash:generateContent"
    static let nativeBody = #"{"contents":[{"parts":[{"text":"full?"}]}]}"#
    static let mapBytes = 2 << 20

    /// A config for the accounting harness' team and key on `fake`, with a small ledger.
    static func config(_ fake: FakeGemini) -> FlashgateConfig {
        var config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        var team = TeamConfig(id: "search")
        team.maxOutputTokens = 64
        team.budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "1.00")!)]
        config.teams = [team]
        config.keys = [KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex(AccountingTests.key))]
        config.accounting.adminKey = Secret("admin-secret")
        config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
        config.store.maxSizeBytes = mapBytes
        return config
    }

    /// Fills the ledger in `directory` with request rows until `percent` of its map is used.
    static func fill(_ directory: String, toPercent percent: Int) async throws {
        let ledger = try Ledger.open(directory: directory + "/ledger", maxSizeBytes: mapBytes)
        defer { ledger.close() }
        // Rows of today, so that retention keeps them.
        var row = SettlementRecord(
            reservationID: nil, timeMs: Int64(Date().timeIntervalSince1970 * 1000), team: "other", key: "", model: "m", route: "r",
            cost: MicroUSD(10), cacheStatus: "miss", outcome: "ok", budgetKeys: ["team:other|total"])
        row.attempts = (0..<8).map { "r\($0):503:\(String(repeating: "9", count: 60))ms" }
        let filler = row
        while try ledgerPercent(directory) < percent {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { try await ledger.settle(filler) } }
                try await group.waitForAll()
            }
        }
    }

    /// The data file grows with the pages LMDB has used (its high-water mark).
    static func ledgerPercent(_ directory: String) throws -> Int {
        let size = try FileManager.default.attributesOfItem(atPath: directory + "/ledger/data.mdb")[.size] as? Int ?? 0
        return size * 100 / mapBytes
    }

    @Test func aNearlyFullLedgerRefusesPaidCallsAndNeverAnswersOneUnrecorded() async throws {
        let fake = try await FakeGemini.start()
        let directory = try TempDirectory()
        defer { directory.remove() }
        try await Self.fill(directory.path, toPercent: 85)
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(
            config: Self.config(fake), http: curl, storeDirectory: directory.path,
            nowMilliseconds: { Int64(Date().timeIntervalSince1970 * 1000) }, priceMadeUpModels: false)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        var answered = 0
        var refused: RawHTTPClient.Response?
        for _ in 0..<2_000 {
            let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: Self.auth)
            if response?.status == 200 {
                answered += 1
            } else {
                refused = response
                break
            }
        }
        let openAI = try #require(refused, "the ledger filled up and paid calls were still answered")
        #expect(openAI.status == 503)
        #expect(openAI.json?["error"]?["code"]?.stringValue == "ledger_full")
        let message = openAI.json?["error"]?["message"]?.stringValue ?? ""
        #expect(message.contains("flashgate ledger compact") && message.contains("ledger.max_size"))
        #expect(openAI.header("x-should-retry") == "false")
        let native = try await client.request(
            "POST", Self.native, body: Self.nativeBody,
            headers: [("x-goog-api-key", AccountingTests.key), ("cache-control", "no-store")])
        #expect(native?.status == 503)
        #expect(native?.json?["error"]?["status"]?.stringValue == "UNAVAILABLE")
        #expect(native?.json?["error"]?["details"]?[0]?["reason"]?.stringValue == "LEDGER_FULL")
        // Free calls still work: health, and the admin API reading the ledger.
        #expect(try await client.request("GET", "/readyz")?.status == 200)
        let metrics = try await client.request("GET", "/metrics")
        #expect(metrics?.text.contains("flashgate_ledger_full_state 2") == true)
        #expect(metrics?.text.contains("flashgate_ledger_map_bytes \(Self.mapBytes)") == true)
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()

        // Every answered call is in the ledger, with what it cost.
        let ledger = try Ledger.open(directory: directory.path + "/ledger", maxSizeBytes: Self.mapBytes)
        defer { ledger.close() }
        let rows = try ledger.requestRows().filter { $0.team == "search" && $0.cacheStatus != "lease" }
        #expect(answered > 0)
        #expect(rows.filter { $0.outcome == "ok" }.count == answered)
        #expect(try ledger.openLeases().isEmpty, "a clean stop hands every lease back")
    }

    @Test func flashgateStartsOnAFullLedgerAndCountsWhatItCannotSettle() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        // Reservations a crash left open, in a ledger filled to the last page.
        var open = MicroUSD.zero
        do {
            let ledger = try Ledger.open(directory: directory.path + "/ledger", maxSizeBytes: Self.mapBytes)
            var full = false
            while !full {
                let made = await withTaskGroup(of: Int64?.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            let r = ReservationRecord(
                                id: ledger.nextReservationID(), timeMs: 1, team: "search", key: "ci",
                                model: "gemini-3.5-flash", route: "studio", amount: MicroUSD(10),
                                budgetKeys: ["team:search:total", "x:" + String(repeating: "x", count: 300)])
                            return (try? await ledger.reserve(r)).map { 10 }
                        }
                    }
                    return await group.reduce(into: [Int64?]()) { $0.append($1) }
                }
                open += MicroUSD(made.compactMap { $0 }.reduce(0, +))
                full = made.contains { $0 == nil }
            }
            ledger.close()
        }
        let fake = try await FakeGemini.start()
        var config = Self.config(fake)
        config.teams[0].budgets = [BudgetConfig(period: .total, limit: MicroUSD(dollars: "1.00")!)]
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(
            config: config, http: curl, storeDirectory: directory.path, priceMadeUpModels: false)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        #expect(try await client.request("GET", "/readyz")?.status == 200)
        let refused = try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: Self.auth)
        #expect(refused?.status == 503)
        #expect(refused?.json?["error"]?["code"]?.stringValue == "ledger_full")
        #expect(fake.requestCount == 0)
        // What the crash left open counts as spent, settled on disk or not.
        let budgets = try await client.request(
            "GET", "/admin/budgets", headers: [("authorization", "Bearer admin-secret")])
        #expect(budgets?.json?["data"]?[0]?["settled_usd"] == .number(open.dollars))
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    @Test func aStalledDiskFillsTheBoundedQueueThenRefusesThenEverythingSettles() async throws {
        let fake = try await FakeGemini.start()
        let directory = try TempDirectory()
        defer { directory.remove() }
        let disk = StallableDisk()
        var config = Self.config(fake)
        config.ledger.queueCapacity = 16
        config.ledger.queueWait = .zero
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(
            config: config, http: curl, storeDirectory: directory.path, priceMadeUpModels: false,
            beforeLedgerCommit: { disk.pass() })
        let ledger = gateway.running.gateway.accountant.ledger!
        let client = try await RawHTTPClient.connect(port: gateway.port)
        // The first call takes the lease, durably.
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: Self.auth)?.status == 200
        )
        while ledger.queueDepth > 0 { await Task.yield() }
        // The disk stalls: answers go on (their lease covers them) until the queue is full.
        let gate = disk.stall()
        var answered: [RawHTTPClient.Response] = []
        var refused: RawHTTPClient.Response?
        for _ in 0..<64 {
            let response = try #require(
                try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: Self.auth))
            if response.status == 200 {
                answered.append(response)
                #expect(ledger.queueDepth <= config.ledger.queueCapacity + 1, "the queue grew past its bound")
            } else {
                refused = response
                break
            }
        }
        let busy = try #require(refused, "a stalled disk never refused a call")
        #expect(busy.status == 503)
        #expect(busy.json?["error"]?["code"]?.stringValue == "ledger_busy")
        #expect(busy.header("retry-after") == "1")
        #expect(answered.count >= config.ledger.queueCapacity - 1)
        #expect(ledger.queueDepth <= config.ledger.queueCapacity + 1)
        // The disk comes back: every answered call settles, at what its answer said it cost.
        gate.open()
        let rows = try await Self.rows(ledger, atLeast: answered.count + 1)
        let paid = rows.filter { $0.outcome == "ok" }
        #expect(paid.count == answered.count + 1)
        let charged = answered.compactMap { $0.header("x-flashgate-cost-usd") }.compactMap { MicroUSD(dollars: $0) }
        #expect(paid.dropFirst().reduce(MicroUSD.zero) { $0 + $1.cost } == charged.reduce(.zero, +))
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: Self.chat, headers: Self.auth)?.status == 200
        )
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }

    /// Waits (yielding, never sleeping) until `ledger` holds `count` request rows.
    static func rows(_ ledger: Ledger, atLeast count: Int) async throws -> [SettlementRecord] {
        while true {
            let rows = try ledger.requestRows()
            if rows.count >= count { return rows }
            await Task.yield()
        }
    }
}

/// A disk for the ledger's writer that a test can stall: `pass` runs before each commit and
/// blocks while a stall's gate is closed.
final class StallableDisk: Sendable {
    private let gate = Mutex<FakeGate?>(nil)

    func stall() -> FakeGate {
        let new = FakeGate()
        gate.withLock { $0 = new }
        return new
    }

    func pass() { gate.withLock { $0 }?.blockUntilOpen() }
}
