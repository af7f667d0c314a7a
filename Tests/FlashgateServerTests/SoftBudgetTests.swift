import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Synchronization
import Testing

@testable import FlashgateServer

/// A soft budget admits and flags: every call over it carries `x-flashgate-budget-exceeded`
/// (streams in their head), is counted in `flashgate_budget_soft_exceeded_total` and in the access
/// log, the server log warns once per budget and period, and the dashboard marks the budget.
/// Time is a manual wall clock; nothing sleeps.
@Suite struct SoftBudgetTests {
    /// A wall clock tests move by hand.
    final class WallClock: Sendable {
        private let ms: Atomic<Int64>
        init(_ start: Int64) { ms = Atomic(start) }
        var now: Int64 { ms.load(ordering: .relaxed) }
        func advance(_ delta: Int64) { ms.add(delta, ordering: .relaxed) }
    }

    static let warning = "a soft budget is exceeded"

    @Test func everyCallOverASoftBudgetIsFlaggedAndTheLogWarnsOncePerPeriod() async throws {
        let clock = WallClock(DashboardTests.now)
        let log = AccessLogTests.Lines()
        let access = AccessLogTests.Lines()
        // 1 µ$ a day, soft: every call goes over it, and every one is answered.
        let h = try await AccountingTests.Harness.start(
            configure: { config in
                config.teams[0].budgets = [BudgetConfig(period: .day, limit: MicroUSD(1), mode: .soft)]
            }, nowMilliseconds: { clock.now }, accessLog: { access.add($0) }, log: { log.add($0) })
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let auth = AccountingTests.auth
        func chat(_ text: String, stream: Bool = false) async throws -> RawHTTPClient.Response {
            let body =
                stream
                ? #"{"model":"gemini-3.5-flash","max_tokens":4,"stream":true,"messages":[{"role":"user","content":"\#(text)"}]}"#
                : AccountingTests.chat(text, maxTokens: 4)
            return try #require(try await client.request("POST", "/v1/chat/completions", body: body, headers: auth))
        }
        func warnings() -> Int { log.all.filter { $0.contains(Self.warning) }.count }

        for text in ["one", "two"] {
            let response = try await chat(text)
            #expect(response.status == 200)
            #expect(response.header("x-flashgate-budget-exceeded") == "team:search:day")
        }
        // A stream names the budget in its head.
        let streamed = try await chat("three", stream: true)
        #expect(streamed.status == 200)
        #expect(streamed.header("x-flashgate-budget-exceeded") == "team:search:day")
        #expect(streamed.text.contains("data: [DONE]"))
        _ = try await h.rows(atLeast: 3)
        #expect(warnings() == 1, "one warning for the period, not one per request")
        let line = try #require(log.all.first { $0.contains(Self.warning) })
        #expect(line.contains("budget=team:search:day") && line.contains("level=warning"))
        #expect(line.contains("period=team:search:day:2026-11-26"))

        // The next day is a new period: the first call over it warns again, the next ones do not.
        clock.advance(86_400_000)
        for text in ["four", "five", "six"] {
            #expect(try await chat(text).header("x-flashgate-budget-exceeded") == "team:search:day")
        }
        _ = try await h.rows(atLeast: 6)
        #expect(warnings() == 2)
        #expect(
            log.all.filter { $0.contains(Self.warning) }.last?.contains("period=team:search:day:2026-11-27") == true)

        let m = try Exposition(try #require(try await client.request("GET", "/metrics")).text)
        #expect(m.value("flashgate_budget_soft_exceeded_total", ["team": "search", "budget": "day"]) == 6)
        let lines = await access.wait(for: 6)
        #expect(lines.filter { $0.contains("budget_exceeded=team:search:day") }.count == 6)

        let d = try #require(
            try await client.request("GET", "/admin/dashboard.json?hours=1", headers: RefusalTests.admin)?.json)
        #expect(d["budgets"]?[0]?["over_limit"] == .bool(true))
        await client.close()
        try await h.stop()
    }
}
