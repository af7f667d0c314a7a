import FlashgateCore
import Testing

@testable import FlashgateServer

/// A hit's OpenAI body filled from a template must be byte for byte what a fresh render gives,
/// whatever the id and time; answers a template cannot stand for are rendered every time.
@Suite struct HitBodyMemoTests {
    static let text = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"It is -7 degrees \"outside\" {}"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#
    static let twoChoices = #"{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP","index":0},{"content":{"parts":[{"text":"b"}]},"finishReason":"MAX_TOKENS","index":1}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2,"thoughtsTokenCount":4,"cachedContentTokenCount":1}}"#
    static let blocked = #"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":9}}"#
    static let toolCall = #"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"x":1}}}]},"finishReason":"STOP","index":0}]}"#

    @Test(arguments: [text, twoChoices, blocked])
    func aFilledTemplateIsWhatAFreshRenderGives(stored: String) throws {
        let response = try JSONParser.parse(Array(stored.utf8))
        let memo = HitBodyMemo()
        let key = HitBodyMemo.Key(digest: [1, 2, 3], createdAtMs: 42, model: "gemini-3.5-flash")
        let marked = Generation.openAIHitBody(
            response, model: key.model, id: HitBodyMemo.markerID, created: HitBodyMemo.markerCreated)
        #expect(marked.signatures.isEmpty)
        #expect(memo.learn(key, markedBody: marked.body))
        for (id, created) in [("chatcmpl-abc", 1_800_000_000), ("chatcmpl-\"q\"\\\n", 0), ("chatcmpl-é", 7)] {
            let fresh = Generation.openAIHitBody(response, model: key.model, id: id, created: created).body
            #expect(memo.body(key, id: id, created: created) == fresh, "\(id)")
        }
        #expect(memo.body(HitBodyMemo.Key(digest: [1, 2, 3], createdAtMs: 43, model: key.model), id: "x", created: 1) == nil)
    }

    @Test func anIdThatShowsTwiceIsNotTemplated() throws {
        // Tool call ids are made from the completion id: a template would carry the marker.
        let response = try JSONParser.parse(Array(Self.toolCall.utf8))
        let memo = HitBodyMemo()
        let key = HitBodyMemo.Key(digest: [9], createdAtMs: 1, model: "m")
        let marked = Generation.openAIHitBody(
            response, model: "m", id: HitBodyMemo.markerID, created: HitBodyMemo.markerCreated)
        #expect(!memo.learn(key, markedBody: marked.body))
        #expect(memo.count == 0)
        #expect(memo.body(key, id: "chatcmpl-1", created: 1) == nil)
    }

    @Test func theMemoIsBoundedInEntriesAndBytes() {
        let memo = HitBodyMemo(limit: 3, byteLimit: 300)
        let body = Array(#"{"id":"chatcmpl-\u0001flashgate-id\u0001","created":-7777777777777}"#.utf8)
        for n in 0..<7 {
            #expect(memo.learn(HitBodyMemo.Key(digest: [UInt8(n)], createdAtMs: 0, model: "m"), markedBody: body))
            #expect(memo.count <= 3)
            #expect(memo.bytes <= 300)
        }
        let large = HitBodyMemo()
        let padded = Array(#"{"id":"chatcmpl-\u0001flashgate-id\u0001","created":-7777777777777,"x":""#.utf8)
            + Array(repeating: UInt8(ascii: "a"), count: HitBodyMemo.maxBodyBytes) + Array(#""}"#.utf8)
        #expect(!large.learn(HitBodyMemo.Key(digest: [1], createdAtMs: 0, model: "m"), markedBody: padded))
    }
}
