import FlashgateCore
import FlashgateRouting
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// Client → Flashgate → libcurl fetch of an image_url → FakeGemini, and the refusals of the
/// default media policy. FakeGemini serves both the image and the generateContent answer.
@Suite struct MediaFetchTests {
    typealias Harness = UpstreamPathTests.Harness

    static let imageBytes: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 250, 251, 252]

    static func permissive(_ config: inout FlashgateConfig) {
        config.media.allowHTTP = true
        config.media.allowPrivateNetworks = true
    }

    static func chat(imageURL: String, stream: Bool = false) -> String {
        #"{"model":"m","stream":\#(stream),"messages":[{"role":"user","content":[{"type":"text","text":"what is it"},"#
            + #"{"type":"image_url","image_url":{"url":"\#(imageURL)","detail":"high"}}]}]}"#
    }

    static func image(_ chunks: [[UInt8]], type: String = "image/png", status: Int = 200) -> FakeReply {
        FakeReply(status: status, headers: [("Content-Type", type)], chunks: chunks)
    }

    @Test func fetchedImageIsInlinedInTheUpstreamRequest() async throws {
        let h = try await Harness.start(configure: Self.permissive)
        h.fake.enqueue(Self.image([Self.imageBytes]))
        let url = "\(h.fake.baseURL)/pictures/cat.png"
        let response = try await h.client.request("POST", "/v1/chat/completions", body: Self.chat(imageURL: url))
        #expect(response?.status == 200, "\(response?.text ?? "")")
        #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "Hello from FakeGemini")
        let received = h.fake.received
        #expect(received.count == 2)
        #expect(received.first?.method == "GET")
        #expect(received.first?.path == "/pictures/cat.png")
        #expect(received.first?.header("x-goog-api-key") == nil)  // the route's key never goes to media hosts
        let sent = try #require(received.last)
        #expect(sent.path == "/v1beta/models/m:generateContent")
        let parts = sent.bodyJSON?["contents"]?[0]?["parts"]
        #expect(parts?[0] == ["text": "what is it"])
        #expect(parts?[1]?["inlineData"]?["mimeType"] == "image/png")
        #expect(parts?[1]?["inlineData"]?["data"]?.stringValue == Data(Self.imageBytes).base64EncodedString())
        #expect(parts?[1]?["mediaResolution"] == ["level": "MEDIA_RESOLUTION_HIGH"])
        #expect(!sent.bodyText.contains("flashgatePendingMedia"))
        try await h.stop()
    }

    @Test func severalImagesAreFetchedConcurrently() async throws {
        let h = try await Harness.start(configure: Self.permissive)
        let gate = FakeGate()
        for _ in 0..<2 {
            var reply = Self.image([Self.imageBytes])
            reply.gate = gate
            h.fake.enqueue(reply)
        }
        // Two host names for the one FakeGemini: libcurl (PIPEWAIT) would otherwise queue the
        // second transfer behind the first connection until that one's answer shows its protocol.
        let body =
            #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"\#(h.fake.baseURL)/1.png"},"#
            + #"{"type":"text","text":"and"},{"type":"image_url","image_url":{"url":"http://localhost:\#(h.fake.port)/2.png"}}]}]}"#
        try await h.client.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: body))
        // Both fetches are in flight while neither has been answered.
        await h.fake.waitForRequests(2)
        gate.open()
        let response = await h.client.next()
        #expect(response?.status == 200)
        #expect(Set(h.fake.received.prefix(2).map(\.path)) == ["/1.png", "/2.png"])
        let parts = try #require(h.fake.received.last?.bodyJSON?["contents"]?[0]?["parts"]?.arrayValue)
        #expect(parts.count == 3)
        #expect(parts[0]["inlineData"]?["mimeType"] == "image/png")
        #expect(parts[1] == ["text": "and"])
        #expect(parts[2]["inlineData"]?["data"]?.stringValue == Data(Self.imageBytes).base64EncodedString())
        try await h.stop()
    }

    @Test func streamedChatFetchesMediaFirst() async throws {
        let h = try await Harness.start(configure: Self.permissive)
        h.fake.enqueue(Self.image([Self.imageBytes], type: "image/jpeg; charset=binary"))
        let response = try await h.client.request(
            "POST", "/v1/chat/completions", body: Self.chat(imageURL: "\(h.fake.baseURL)/a.jpg", stream: true))
        #expect(response?.status == 200)
        #expect(response?.text.hasSuffix("data: [DONE]\n\n") == true)
        let sent = try #require(h.fake.received.last)
        #expect(sent.queryItem("alt") == "sse")
        #expect(sent.bodyJSON?["contents"]?[0]?["parts"]?[1]?["inlineData"]?["mimeType"] == "image/jpeg")
        try await h.stop()
    }

    @Test func defaultsRefusePlainHTTP() async throws {
        let h = try await Harness.start()
        let response = try await h.client.request(
            "POST", "/v1/chat/completions", body: Self.chat(imageURL: "\(h.fake.baseURL)/cat.png"))
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "messages[0].content[1].image_url.url")
        #expect(response?.json?["error"]?["message"]?.stringValue?.contains("http://") == true)
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    /// A Responses request's media fetch that fails names the Responses field (`input[1]`, after
    /// `instructions` and a first item), not the chat message it was translated to (`messages[2]`).
    @Test func aResponsesFetchErrorNamesTheInputItem() async throws {
        let h = try await Harness.start()
        let body =
            #"{"model":"m","instructions":"be brief","input":[{"role":"user","content":"a"},"#
            + #"{"role":"user","content":[{"type":"input_text","text":"what is it"},"#
            + #"{"type":"input_image","image_url":"\#(h.fake.baseURL)/cat.png"}]}]}"#
        let response = try await h.client.request("POST", "/v1/responses", body: body)
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "input[1].content[1].image_url.url")
        let message = response?.json?["error"]?["message"]?.stringValue ?? ""
        #expect(message.contains("input[1].content[1]"), "\(message)")
        #expect(!message.contains("messages["), "\(message)")
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    @Test(arguments: [
        "https://127.0.0.1:9/cat.png", "https://localhost/cat.png", "https://[::1]/cat.png", "https://2130706433/cat.png",
        "https://[::ffff:127.0.0.1]/cat.png",
    ])
    func defaultsRefuseLoopback(url: String) async throws {
        let h = try await Harness.start()
        let response = try await h.client.request("POST", "/v1/chat/completions", body: Self.chat(imageURL: url))
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "messages[0].content[1].image_url.url")
        #expect(response?.json?["error"]?["message"]?.stringValue?.contains("loopback") == true, "\(response?.text ?? "")")
        #expect(h.fake.requestCount == 0)
        try await h.stop()
    }

    /// Scripted media answers that must each end in a 400 whose message contains the reason.
    enum BadFetch: String, CaseIterable, Sendable {
        case oversized, oversizedChunked, wrongType, notFound, redirect

        var reply: FakeReply {
            switch self {
            case .oversized: image([Array(repeating: 7, count: 2000)])
            case .oversizedChunked: image(Array(repeating: Array(repeating: 7, count: 600), count: 3))
            case .wrongType: image([[1]], type: "application/octet-stream")
            case .notFound: image([Array("gone".utf8)], type: "text/plain", status: 404)
            case .redirect: FakeReply(status: 302, headers: [("Location", "http://10.0.0.1/")])
            }
        }

        var reason: String {
            switch self {
            case .oversized, .oversizedChunked: "larger than the 1024-byte limit"
            case .wrongType: "application/octet-stream"
            case .notFound: "HTTP 404"
            case .redirect: "redirects are not followed"
            }
        }
    }

    @Test(arguments: BadFetch.allCases)
    func failedOrOversizedFetchesAre400s(bad: BadFetch) async throws {
        let reply = bad.reply
        let reason = bad.reason
        let h = try await Harness.start { config in
            Self.permissive(&config)
            config.media.maxBytes = 1024
        }
        h.fake.enqueue(reply)
        let response = try await h.client.request(
            "POST", "/v1/chat/completions", body: Self.chat(imageURL: "\(h.fake.baseURL)/big.png"))
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "messages[0].content[1].image_url.url")
        #expect(response?.json?["error"]?["message"]?.stringValue?.contains(reason) == true, "\(response?.text ?? "")")
        #expect(h.fake.received.allSatisfy { $0.method == "GET" })  // nothing went to generateContent
        try await h.stop()
    }

    @Test func unreachableMediaHostIsA400NotA502() async throws {
        let h = try await Harness.start(configure: Self.permissive)
        let response = try await h.client.request(
            "POST", "/v1/chat/completions", body: Self.chat(imageURL: "http://127.0.0.1:1/x.png"))
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["param"]?.stringValue == "messages[0].content[1].image_url.url")
        try await h.stop()
    }

    /// DNS rebinding: the host is resolved once, for the check, and libcurl connects to the address
    /// checked instead of resolving the name again. `.invalid` names never resolve in real DNS, so
    /// the fetch reaches the fake only through the address the check saw.
    @Test func theFetchConnectsToTheAddressTheCheckResolved() async throws {
        CurlTransport.ignoreSIGPIPE()
        let fake = try await FakeGemini.start()
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        var config = MediaConfig()
        config.allowHTTP = true
        config.allowPrivateNetworks = true
        let fetcher = UpstreamMediaFetcher(
            transport: transport, config: config, resolve: { _ in [NetworkAddress("127.0.0.1")!] })
        do {
            fake.enqueue(Self.image([Self.imageBytes]))
            let media = try await fetcher.fetch("http://rebind.invalid:\(fake.port)/cat.png")
            #expect(media == FetchedMedia(mimeType: "image/png", bytes: Self.imageBytes))
            #expect(fake.received.first?.header("host") == "rebind.invalid:\(fake.port)")
        } catch {
            try await fake.shutdown()
            throw error
        }
        try await fake.shutdown()
    }

    /// Under the default policy the request carries the first checked (public) address; the
    /// transport connects there and nowhere else.
    @Test func theDefaultPolicyPinsTheCheckedPublicAddress() async throws {
        let recorder = RecordingMediaTransport(reply: Self.imageBytes)
        let fetcher = UpstreamMediaFetcher(
            transport: recorder, config: MediaConfig(),
            resolve: { _ in [NetworkAddress("93.184.216.34")!, NetworkAddress("2606:2800:220:1:248:1893:25c8:1946")!] })
        let media = try await fetcher.fetch("https://example.com/cat.png")
        #expect(media.bytes == Self.imageBytes)
        #expect(recorder.requests.map(\.connectAddress) == [NetworkAddress("93.184.216.34")])
        #expect(recorder.requests.map(\.url) == ["https://example.com/cat.png"])
    }

    @Test func hostsResolvingToAnyPrivateAddressAreRefusedBeforeFetching() async throws {
        let fetcher = UpstreamMediaFetcher(
            transport: MockTransport(), config: MediaConfig(),
            resolve: { _ in [NetworkAddress("93.184.216.34")!, NetworkAddress("10.0.0.7")!] })
        await #expect {
            _ = try await fetcher.fetch("https://mixed.example/cat.png")
        } throws: { error in
            (error as? MediaFetchError)?.reason.contains("10.0.0.7, a private address") == true
        }
        let unresolvable = UpstreamMediaFetcher(transport: MockTransport(), config: MediaConfig(), resolve: { _ in [] })
        await #expect(throws: MediaFetchError.self) { _ = try await unresolvable.fetch("https://nowhere.example/x.png") }
        await #expect(throws: MediaFetchError.self) { _ = try await unresolvable.fetch("file:///etc/passwd") }
        await #expect {
            _ = try await unresolvable.fetch("https://user:pw@127.0.0.1@example.com/x.png")
        } throws: { error in
            (error as? MediaFetchError)?.reason.contains("credentials") == true
                || (error as? MediaFetchError)?.reason.contains("not a valid URL") == true
        }
        await #expect {
            _ = try await unresolvable.fetch("https://user@example.com/x.png")
        } throws: { error in
            (error as? MediaFetchError)?.reason.contains("credentials") == true
        }
    }
}

/// Answers every request with one PNG and remembers what it was asked.
private final class RecordingMediaTransport: UpstreamTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [UpstreamRequest] = []
    let reply: [UInt8]

    init(reply: [UInt8]) { self.reply = reply }

    var requests: [UpstreamRequest] { lock.withLock { recorded } }

    func send(_ request: UpstreamRequest) -> UpstreamResponse {
        lock.withLock { recorded.append(request) }
        let (stream, continuation) = AsyncThrowingStream<UpstreamEvent, any Error>.makeStream()
        continuation.yield(.head(status: 200, headers: [UpstreamHeader("content-type", "image/png")]))
        continuation.yield(.body(reply))
        continuation.finish()
        return UpstreamResponse(stream)
    }
}
