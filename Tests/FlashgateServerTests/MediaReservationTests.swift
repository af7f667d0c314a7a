import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateServer

/// Media Flashgate fetches for an `image_url` is priced before the call goes upstream: the
/// reservation is made on the body Gemini will read, with the fetched bytes inline. Before, it was
/// made on the body before the fetch, where the part was a placeholder holding the URL: a fetched
/// video of 400 KB (some 13,000 input tokens) reserved as if it were a few dozen bytes of text,
/// and a strict hard budget could be passed by the difference.
extension AccountingTests {
    static func fetchVideo(_ url: String) -> String {
        #"{"model":"gemini-3.5-flash","max_tokens":16,"messages":[{"role":"user","content":["#
            + #"{"type":"text","text":"what happens"},{"type":"image_url","image_url":{"url":"\#(url)"}}]}]}"#
    }

    @Test func fetchedMediaIsReservedAsWhatGeminiReads() async throws {
        // 400,000 bytes of video: 50 × 263 = 13,150 input tokens, $0.0197 at $1.50/M. The budget
        // holds the text alone but not the video.
        let h = try await Harness.start(budgetUSD: "0.01") { config in
            config.media.allowHTTP = true
            config.media.allowPrivateNetworks = true
        }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        h.fake.enqueue(FakeReply(status: 200, headers: [("Content-Type", "video/mp4")], chunks: [[UInt8](repeating: 7, count: 400_000)]))
        let refused = try await client.request(
            "POST", "/v1/chat/completions", body: Self.fetchVideo("\(h.fake.baseURL)/clips/long.mp4"), headers: Self.auth)
        #expect(refused?.status == 429, "\(refused?.text.prefix(300) ?? "")")
        #expect(refused?.json?["error"]?["code"]?.stringValue == "insufficient_quota")
        // The video was fetched (that is how its size is known) and nothing went to Gemini.
        #expect(h.fake.received.map(\.method) == ["GET"])

        // A small image fits: the same call with 4 KB of PNG goes through.
        h.fake.enqueue(FakeReply(status: 200, headers: [("Content-Type", "image/png")], chunks: [[UInt8](repeating: 1, count: 4_000)]))
        let answered = try await client.request(
            "POST", "/v1/chat/completions", body: Self.fetchVideo("\(h.fake.baseURL)/pictures/cat.png"), headers: Self.auth)
        #expect(answered?.status == 200, "\(answered?.text.prefix(300) ?? "")")
        await client.close()
        try await h.stop()
    }
}
