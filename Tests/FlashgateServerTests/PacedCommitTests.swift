import FlashgateCore
import FlashgateServer
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

/// Under budget leases the rows of answered calls share paced commits (`ledger.commit_interval`)
/// instead of costing a commit and an fdatasync each, as they did one by one at a call at a time;
/// a report still sees every call answered before it.
@Suite(.timeLimit(.minutes(1)))
struct PacedCommitTests {
    @Test func answeredCallsShareCommitsAndAReportStillSeesEveryOne() async throws {
        let h = try await AccountingTests.Harness.start(budgetUSD: "100") { config in
            config.ledger.commitInterval = .seconds(1)
        }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let calls = 200
        let before = h.ledger.commitCounts.commits
        for i in 0..<calls {
            let response = try await client.request(
                "POST", "/v1/chat/completions", body: AccountingTests.chat("call \(i)"), headers: AccountingTests.auth)
            #expect(response?.status == 200)
        }
        // The report commits what is held first, so it counts every answered call.
        let usage = try await client.request("GET", "/admin/usage", headers: [("authorization", "Bearer admin-secret")])
        #expect(usage?.json?["data"]?[0]?["requests"]?.intValue == calls)
        #expect(try h.ledger.requestRows().count == calls)
        // One commit per call before pacing (the writer committed each row as it came, calls
        // arriving one at a time); now one per interval, plus lease grants and the report's flush.
        let commits = h.ledger.commitCounts.commits - before
        #expect(commits <= calls / 4, "\(commits) commits for \(calls) calls")
        await client.close()
        try await h.stop()
    }
}
