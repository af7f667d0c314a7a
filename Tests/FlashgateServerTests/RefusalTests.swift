import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// Requests Flashgate refuses itself (401, 400/404 on bad input, 429 from a rate limit or a
/// budget) are counted by reason, team and key: in the ledger (read back through
/// `/admin/usage`), in `flashgate_refusals_total`, in the access log and on the dashboard.
@Suite struct RefusalTests {
    static let admin = [("authorization", "Bearer admin-secret")]
    static let slowKey = "fg-slow-key-0123456789"

    /// The search team with a $0.0005 day budget (below one worst case of 64 output tokens at
    /// $9/M plus the prompt); its key `slow` may make one request a minute.
    static func start(accessLog: (@Sendable (String) -> Void)? = nil) async throws -> AccountingTests.Harness {
        try await AccountingTests.Harness.start(
            budgetUSD: "0.0005",
            configure: { config in
                var slow = KeyConfig(name: "slow", team: "search", hashHex: VirtualKey.hashHex(Self.slowKey))
                slow.limits.requestsPerMinute = 1
                config.keys.append(slow)
            }, accessLog: accessLog)
    }

    /// One refusal of every reason a model endpoint can give, and one admitted call.
    static func refuseEveryWay(_ client: RawHTTPClient) async throws {
        let chat = AccountingTests.chat("refused")
        let auth = AccountingTests.auth
        let slow = [("authorization", "Bearer \(slowKey)"), ("cache-control", "no-store")]
        #expect(try await client.request("POST", "/v1/chat/completions", body: chat)?.status == 401)
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: "{not json", headers: auth)?.status == 400)
        let noMessages = #"{"model":"gemini-3.5-flash"}"#
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: noMessages, headers: auth)?.status == 400)
        let native = "/v1beta/models/gemini-3.5-flash:generateContent"
        #expect(try await client.request("POST", native, body: "[]", headers: auth)?.status == 400)
        let big = AccountingTests.chat("big", maxTokens: 60000)
        #expect(try await client.request("POST", "/v1/chat/completions", body: big, headers: auth)?.status == 429)
        #expect(try await client.request("POST", "/v1/chat/completions", body: chat, headers: slow)?.status == 200)
        #expect(try await client.request("POST", "/v1/chat/completions", body: chat, headers: slow)?.status == 429)
    }

    @Test func refusalsAreCountedByReasonTeamAndKeyInTheLedger() async throws {
        let lines = AccessLogTests.Lines()
        let h = try await Self.start(accessLog: { lines.add($0) })
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        try await Self.refuseEveryWay(client)

        let usage = try #require(try await client.request("GET", "/admin/usage", headers: Self.admin)?.json)
        let rows = usage["data"]?.arrayValue ?? []
        func refused(team: String, key: String) -> JSONValue? {
            rows.first {
                $0["team"]?.stringValue == team && $0["key"]?.stringValue == key && $0["model"]?.stringValue == ""
            }
        }
        let ci = try #require(refused(team: "search", key: "ci"), "\(rows)")
        #expect(ci["refused"]?.intValue == 4)
        #expect(ci["refused_by"]?["bad_input"]?.intValue == 3)
        #expect(ci["refused_by"]?["budget"]?.intValue == 1)
        #expect(ci["requests"]?.intValue == 0)
        let slow = try #require(refused(team: "search", key: "slow"))
        #expect(slow["refused"]?.intValue == 1)
        #expect(slow["refused_by"]?["rate_limit"]?.intValue == 1)
        // Nobody known: counted under the empty team and key.
        let anonymous = try #require(refused(team: "", key: ""))
        #expect(anonymous["refused_by"]?["auth"]?.intValue == 1)
        // The admitted call is a request row as before, with nothing refused.
        let served = rows.first { $0["key"]?.stringValue == "slow" && $0["model"]?.stringValue == "gemini-3.5-flash" }
        #expect(served?["requests"]?.intValue == 1)
        #expect(served?["refused"]?.intValue == 0)

        let m = try Exposition(try #require(try await client.request("GET", "/metrics")).text)
        #expect(m.value("flashgate_refusals_total", ["reason": "auth", "team": "none"]) == 1)
        #expect(m.value("flashgate_refusals_total", ["reason": "bad_input", "team": "search"]) == 3)
        #expect(m.value("flashgate_refusals_total", ["reason": "budget", "team": "search"]) == 1)
        #expect(m.value("flashgate_refusals_total", ["reason": "rate_limit", "team": "search"]) == 1)
        #expect(m.sum("flashgate_refusals_total") == 6)

        let written = await lines.wait(for: 8)
        for reason in ["auth", "bad_input", "budget", "rate_limit"] {
            #expect(written.contains { $0.contains("refused=\(reason)") }, "no access-log line with refused=\(reason)")
        }
        #expect(written.filter { $0.contains("refused=") }.count == 6)
        #expect(
            written.contains {
                $0.contains("status=400") && $0.contains("refused=bad_input") && $0.contains("team=search")
            })
        await client.close()
        try await h.stop()
    }

    @Test func aDashboardOfRefusalsShowsThemAsErrors() async throws {
        let h = try await Self.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: AccountingTests.chat("x"))?.status == 401)
        let big = AccountingTests.chat("big", maxTokens: 60000)
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: big, headers: AccountingTests.auth)?.status
                == 429)
        let d = try #require(
            try await client.request("GET", "/admin/dashboard.json?hours=1", headers: Self.admin)?.json)
        #expect(d["totals"]?["refused"]?.intValue == 2)
        #expect(d["errors"]?["refused"]?.intValue == 2)
        #expect(d["errors"]?["refused_by"]?["auth"]?.intValue == 1)
        #expect(d["errors"]?["refused_by"]?["budget"]?.intValue == 1)
        #expect(d["errors"]?["error_rate"] == .number("1.0000"))
        await client.close()
        try await h.stop()
    }
}
