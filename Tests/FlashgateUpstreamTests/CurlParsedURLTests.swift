import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

/// libcurl parses each upstream URL once (`CurlParsedURLs`) and takes the parsed handle for every
/// later call to it. A call through a reused parse must reach the server exactly as one whose
/// URL libcurl parsed itself: same path, same query, same destination.
@Suite(.timeLimit(.minutes(1)))
struct CurlParsedURLTests {
    @Test func callsToOneURLReachTheServerAlikeThroughItsParsedHandle() async throws {
        try await withTransport { transport, fake in
            let streamURL = fake.baseURL + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
            let urls = [
                streamURL, streamURL, fake.baseURL + "/v1beta/models/tuned%2Fa:generateContent", streamURL,
                fake.baseURL + "/v1beta/models/tuned%2Fa:generateContent",
            ]
            for url in urls {
                fake.enqueue(FakeReply(chunks: [Array("ok".utf8)]))
                let response = try await collect(transport.send(UpstreamRequest(method: "POST", url: url, body: [])))
                #expect(response.status == 200)
            }
            let received = fake.received
            try #require(received.count == urls.count)
            let stream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
            let tuned = "/v1beta/models/tuned%2Fa:generateContent"
            #expect(received.map(\.path) == [stream, stream, tuned, stream, tuned])
            #expect(received.map(\.query) == ["alt=sse", "alt=sse", nil, "alt=sse", nil])
            // Two distinct URLs: each parsed once, every later call took the parse.
            #expect(transport.stats.reusedURLs == urls.count - 2)
        }
    }

    /// A URL libcurl does not parse is not kept, and the call fails as it did when libcurl parsed
    /// the string itself.
    @Test func anUnparsableURLFailsTheCallAndIsNotKept() async throws {
        let cache = CurlParsedURLs()
        #expect(cache.parsed("http://[::1") == nil)
        #expect(cache.count == 0)
        try await withTransport { transport, fake in
            let error = await upstreamError(of: transport.send(UpstreamRequest(method: "GET", url: "http://[::1")))
            #expect(error != nil)
            fake.enqueue(FakeReply(chunks: [Array("ok".utf8)]))
            let response = try await collect(transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/x")))
            #expect(response.status == 200)
        }
    }

    @Test func theCacheKeepsOneParsePerURLAndEmptiesWhenFull() throws {
        let cache = CurlParsedURLs()
        let first = try #require(cache.parsed("http://127.0.0.1:9/a?x=1"))
        #expect(!first.reused)
        #expect(first.url.text == "http://127.0.0.1:9/a?x=1")
        let again = try #require(cache.parsed("http://127.0.0.1:9/a?x=1"))
        #expect(again.reused && again.url === first.url)
        for i in 1..<CurlParsedURLs.capacity { _ = cache.parsed("http://127.0.0.1:9/\(i)") }
        #expect(cache.count == CurlParsedURLs.capacity)
        // Full: the next new URL empties it. A handle a transfer still holds stays valid.
        let next = try #require(cache.parsed("http://127.0.0.1:9/next"))
        #expect(!next.reused)
        #expect(cache.count == 1)
        #expect(first.url.text == "http://127.0.0.1:9/a?x=1")
        #expect(cache.parsed("http://127.0.0.1:9/a?x=1")?.reused == false)
    }

    /// libcurl's proxy variables: any of them set (not empty) leaves proxy lookup to libcurl;
    /// none set says "no proxy" up front, which is what libcurl would find.
    @Test func aProxyVariableInTheEnvironmentLeavesProxiesToLibcurl() {
        #expect(!CurlProxyEnvironment.namesProxy([:]))
        #expect(!CurlProxyEnvironment.namesProxy(["PATH": "/usr/bin", "no_proxy": "localhost", "https_proxy": ""]))
        for name in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
            #expect(CurlProxyEnvironment.namesProxy([name: "http://proxy.internal:3128"]), "\(name)")
        }
    }
}
