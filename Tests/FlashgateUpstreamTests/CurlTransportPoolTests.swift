import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

/// The connection pool: concurrent calls to one upstream keep their connections for the next
/// calls instead of opening new ones. Counted on the server side (FakeGemini's accepted
/// connections); the calls are held open by a gate until all have arrived, so no timing matters.
@Suite(.timeLimit(.minutes(2)))
struct CurlTransportPoolTests {
    /// Two waves of `calls` concurrent calls, each wave fully in flight before any answers.
    static func twoWaves(_ transport: CurlTransport, _ fake: FakeGemini, calls: Int) async throws {
        for wave in 1...2 {
            let gate = FakeGate()
            for _ in 0..<calls { fake.enqueue(FakeReply(chunks: [Array("ok".utf8)], gate: gate)) }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<calls {
                    group.addTask {
                        try await collect(transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/pool")))
                            .status
                    }
                }
                await fake.waitForRequests(calls * wave)
                gate.open()
                for try await status in group { #expect(status == 200) }
            }
        }
    }

    @Test func concurrentCallsReuseTheirConnectionsByDefault() async throws {
        try await withTransport { transport, fake in
            try await Self.twoWaves(transport, fake, calls: 128)
            // The first wave needs 128 connections; the second reuses every one of them.
            #expect(fake.connectionCount == 128)
        }
    }
}
