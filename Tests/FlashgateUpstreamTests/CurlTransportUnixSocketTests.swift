import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

@Suite(.timeLimit(.minutes(1)))
struct CurlTransportUnixSocketTests {
    @Test func requestWithUnixSocketPathGoesOverTheSocket() async throws {
        CurlTransport.ignoreSIGPIPE()
        try await TempDirectory.with(prefix: "fgux") { directory in
            let path = directory.file("gw.sock")
            let fake = try await FakeGemini.start(unixSocketPath: path)
            let transport = try CurlTransport()
            defer { transport.shutdown() }
            do {
                fake.enqueue(.init(status: 200, headers: [("Content-Type", "text/plain")], chunks: [Array("ok\n".utf8)]))
                let response = try await collect(
                    transport.send(UpstreamRequest(method: "GET", url: "http://localhost/metrics", unixSocketPath: path)))
                #expect(response.status == 200)
                #expect(response.text == "ok\n")
                let received = try #require(fake.received.first)
                #expect(received.path == "/metrics")
                #expect(received.header("host") == "localhost")
            } catch {
                try await fake.shutdown()
                throw error
            }
            try await fake.shutdown()
        }
    }

    @Test func missingSocketIsUnreachable() async throws {
        CurlTransport.ignoreSIGPIPE()
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let response = transport.send(
            UpstreamRequest(method: "GET", url: "http://localhost/metrics", unixSocketPath: "/tmp/fg-no-such-dir/gw.sock"))
        let error = await upstreamError(of: response)
        #expect(error?.kind == .upstreamUnreachable)
    }
}
