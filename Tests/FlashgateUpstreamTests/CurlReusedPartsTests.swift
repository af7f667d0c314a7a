import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

/// What the curl loop builds once and hands to every later call that needs the same: a parsed
/// URL (`CurlParsedURLs`) and a header list (`CurlHeaderLists`). A call through a reused part must
/// reach the server exactly as one that built its own: same path, query, destination and headers.
@Suite(.timeLimit(.minutes(1)))
struct CurlReusedPartsTests {
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

    /// Calls that send the same headers share one header list; calls that send others get
    /// their own, and every request reaches the server with exactly its headers.
    @Test func callsWithTheSameHeadersShareOneListAndNoneMixes() async throws {
        try await withTransport { transport, fake in
            let key = [("content-type", "application/json"), ("x-goog-api-key", "key-one")]
            let other = [("content-type", "application/json"), ("x-goog-api-key", "key-two")]
            let sets: [[(String, String)]] = [key, key, other, key, [], other, [("expect", "100-continue")]]
            for headers in sets {
                fake.enqueue(FakeReply(chunks: [Array("ok".utf8)]))
                let request = UpstreamRequest(
                    method: "POST", url: fake.baseURL + "/h", headers: headers.map { (name: $0.0, value: $0.1) },
                    body: Array("{}".utf8))
                #expect(try await collect(transport.send(request)).status == 200)
            }
            let received = fake.received
            try #require(received.count == sets.count)
            #expect(received.map { $0.header("x-goog-api-key") } == ["key-one", "key-one", "key-two", "key-one", nil, "key-two", nil])
            // "Expect:" goes with every list but the one whose caller named its own.
            #expect(received.map { $0.header("expect") } == [nil, nil, nil, nil, nil, nil, "100-continue"])
            // Four distinct sets: the three repeats took a list built before.
            #expect(transport.stats.reusedHeaderLists == 3)
        }
    }

    @Test func headerListsAreKeptPerSetAndEmptiedWhenFull() throws {
        let lists = CurlHeaderLists()
        let first = try lists.list(for: [(name: "x-a", value: "1")]).get()
        #expect(!first.reused)
        #expect(try lists.list(for: [(name: "x-a", value: "1")]).get().list === first.list)
        #expect(try lists.list(for: [(name: "x-a", value: "2")]).get().list !== first.list)
        #expect(try lists.list(for: [(name: "X-A", value: "1")]).get().list !== first.list)
        #expect(throws: FlashgateError.self) { try lists.list(for: [(name: "x-a", value: "1\r\nx-b: 2")]).get() }
        #expect(throws: FlashgateError.self) { try lists.list(for: [(name: "", value: "1")]).get() }
        for i in 0..<CurlHeaderLists.capacity { _ = try lists.list(for: [(name: "x-n", value: "\(i)")]).get() }
        #expect(lists.listCount <= CurlHeaderLists.capacity)
        // Emptied on the way: the first set is built again; the list held above is still whole.
        #expect(try lists.list(for: [(name: "x-a", value: "1")]).get().reused == false)
        #expect(first.list.isBuilt(from: [(name: "x-a", value: "1")]))
        #expect(String(cString: first.list.list.pointee.data) == "x-a: 1")
    }
}
