import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

/// Finished transfers leave their easy handles, reset, for the next calls. A reset handle must
/// carry nothing of the call before it: each request below reaches the server with exactly its
/// own method, headers, body and destination.
@Suite(.timeLimit(.minutes(1)))
struct CurlTransportHandleReuseTests {
    @Test func aReusedHandleCarriesNothingOfTheCallBefore() async throws {
        try await TempDirectory.with(prefix: "fgreuse") { directory in
            let socketPath = directory.file("up.sock")
            let socketFake = try await FakeGemini.start(unixSocketPath: socketPath)
            do {
                try await withTransport { transport, fake in
                    let calls: [(UpstreamRequest, viaSocket: Bool)] = [
                        (
                            UpstreamRequest(
                                method: "POST", url: fake.baseURL + "/first",
                                headers: [("x-goog-api-key", "secret-one"), ("x-only-first", "1")],
                                body: Array(#"{"first":true}"#.utf8)), false
                        ),
                        (UpstreamRequest(method: "GET", url: fake.baseURL + "/second"), false),
                        (
                            UpstreamRequest(
                                method: "GET", url: "http://localhost/third", headers: [("x-only-third", "3")],
                                unixSocketPath: socketPath), true
                        ),
                        (UpstreamRequest(method: "DELETE", url: fake.baseURL + "/fourth"), false),
                        (UpstreamRequest(method: "POST", url: fake.baseURL + "/fifth", body: Array("5".utf8)), false),
                        (UpstreamRequest(method: "GET", url: fake.baseURL + "/sixth"), false),
                    ]
                    for (request, viaSocket) in calls {
                        (viaSocket ? socketFake : fake).enqueue(FakeReply(chunks: [Array("ok".utf8)]))
                        let response = try await collect(transport.send(request))
                        #expect(response.status == 200)
                    }
                    // One handle serves every call after the first.
                    #expect(transport.stats.reusedHandles == calls.count - 1)

                    let tcp = fake.received
                    try #require(tcp.count == 5)
                    #expect(tcp.map(\.path) == ["/first", "/second", "/fourth", "/fifth", "/sixth"])
                    #expect(tcp.map(\.method) == ["POST", "GET", "DELETE", "POST", "GET"])
                    let bodies = tcp.map { String(decoding: $0.body, as: UTF8.self) }
                    #expect(bodies == [#"{"first":true}"#, "", "", "5", ""])
                    for later in tcp.dropFirst() {
                        #expect(later.header("x-goog-api-key") == nil)
                        #expect(later.header("x-only-first") == nil)
                        #expect(later.header("x-only-third") == nil)
                    }

                    let socket = socketFake.received
                    try #require(socket.count == 1)
                    #expect(socket[0].path == "/third")
                    #expect(socket[0].header("x-only-third") == "3")
                    #expect(socket[0].header("x-goog-api-key") == nil)
                }
            } catch {
                try await socketFake.shutdown()
                throw error
            }
            try await socketFake.shutdown()
        }
    }

    /// A call whose options libcurl refuses frees its handle instead of keeping it, and the next
    /// call still works.
    @Test func aFailedSetupDoesNotPoisonTheNextCall() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(chunks: [Array("ok".utf8)]))
            _ = try await collect(transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/one")))
            let bad = transport.send(
                UpstreamRequest(method: "GET", url: fake.baseURL + "/two", headers: [("x-bad", "a\r\nInjected: 1")]))
            let error = await upstreamError(of: bad)
            #expect(error?.kind == .internal)
            fake.enqueue(FakeReply(chunks: [Array("ok".utf8)]))
            let response = try await collect(
                transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/three")))
            #expect(response.status == 200)
            #expect(fake.received.map(\.path) == ["/one", "/three"])
            #expect(fake.received.last?.header("injected") == nil)
        }
    }

    /// The scheme check that turns on waiting to multiplex: `https://` in any case, nothing else.
    @Test func httpsIsTheSchemeInAnyCase() {
        #expect(CurlTransfer.isHTTPS("https://generativelanguage.googleapis.com/v1beta"))
        #expect(CurlTransfer.isHTTPS("HTTPS://Example.com"))
        #expect(CurlTransfer.isHTTPS("https://"))
        #expect(!CurlTransfer.isHTTPS("http://127.0.0.1:8080/"))
        #expect(!CurlTransfer.isHTTPS("https:/"))
        #expect(!CurlTransfer.isHTTPS(" https://x"))
        #expect(!CurlTransfer.isHTTPS(""))
    }

}
