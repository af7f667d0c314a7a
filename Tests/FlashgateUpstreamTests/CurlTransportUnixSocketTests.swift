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

    /// `connectAddress` is where the connection goes, whatever the URL's host: `.invalid` never
    /// resolves, so only the pinned address can reach the fake. The Host header keeps the name.
    @Test func requestWithConnectAddressConnectsThereAndKeepsTheURLsHost() async throws {
        CurlTransport.ignoreSIGPIPE()
        let fake = try await FakeGemini.start()
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        do {
            fake.enqueue(.init(status: 200, headers: [("Content-Type", "text/plain")], chunks: [Array("ok\n".utf8)]))
            let url = "http://pinned.invalid:\(fake.port)/pictures/cat.png"
            let response = try await collect(
                transport.send(UpstreamRequest(method: "GET", url: url, connectAddress: NetworkAddress("127.0.0.1"))))
            #expect(response.status == 200)
            #expect(response.text == "ok\n")
            let received = try #require(fake.received.first)
            #expect(received.path == "/pictures/cat.png")
            #expect(received.header("host") == "pinned.invalid:\(fake.port)")
            // Without the pin the same URL goes nowhere.
            let error = await upstreamError(of: transport.send(UpstreamRequest(method: "GET", url: url)))
            #expect(error?.kind == .upstreamUnreachable)
            #expect(fake.received.count == 1)
        } catch {
            try await fake.shutdown()
            throw error
        }
        try await fake.shutdown()
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
