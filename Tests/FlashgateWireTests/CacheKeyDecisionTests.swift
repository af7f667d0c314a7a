import Foundation
import FlashgateCore
import Testing

@testable import FlashgateWire

@Suite struct CacheKeyDecisionTests {
    /// Adding a stored property to `ChatRequest` fails here until its cache-key decision is
    /// written into `CacheKeyDecisions.chatRequestFields`.
    @Test func everyChatRequestFieldHasAKeyDecision() {
        let sample = ChatRequest(model: "m", stream: false, includeUsage: false, candidateCount: 1, gemini: JSONObject())
        let names = Set(Mirror(reflecting: sample).children.compactMap(\.label))
        #expect(names == CacheKeyDecisions.chatRequestFields)
    }

    /// The same for `ResponsesRequest`: its new properties need a decision in
    /// `CacheKeyDecisions.responsesRequestFields`.
    @Test func everyResponsesRequestFieldHasAKeyDecision() {
        let chat = ChatRequest(model: "m", stream: false, includeUsage: false, candidateCount: 1, gemini: JSONObject())
        let names = Set(Mirror(reflecting: ResponsesRequest(chat: chat)).children.compactMap(\.label))
        #expect(names == CacheKeyDecisions.responsesRequestFields)
    }

    /// A Responses request and the chat request that says the same share the key: the same
    /// canonical Gemini body; anything that changes that body changes the key.
    @Test func responsesAndChatRequestsShareTheKeyOnlyWhenTheirGeminiBodiesMatch() throws {
        let chat = try ChatRequest.translate(
            try JSONParser.parse(
                #"{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"}],"max_completion_tokens":64,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}"#
            ))
        let body = #"{"model":"gemini-2.5-flash","instructions":"Be brief.","input":"Weather in Paris?","max_output_tokens":64,"stream":true,"store":false,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"},"strict":true}]}"#
        let responses = try ResponsesRequest.translate(try JSONParser.parse(body)) { _ in nil }
        func key(_ gemini: JSONObject) -> CacheKey {
            CacheKey.make(endpoint: .generate, model: "gemini-2.5-flash", scope: "team:a", body: .object(gemini))
        }
        #expect(key(responses.chat.gemini) == key(chat.gemini))
        let longer = try ResponsesRequest.translate(
            try JSONParser.parse(body.replacingOccurrences(of: #""max_output_tokens":64"#, with: #""max_output_tokens":65"#))
        ) { _ in nil }
        #expect(key(longer.chat.gemini) != key(chat.gemini))
    }

    @Test func openAIAndNativeRequestsShareTheKey() throws {
        let chat = try ChatRequest.translate(
            try JSONParser.parse(
                """
                {"model":"gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"user":"u-1",
                 "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"}],
                 "temperature":0.5,"max_tokens":64,"n":1,"tool_choice":"auto",
                 "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
                   "parameters":{"type":"object","properties":{"city_name":{"type":"string"}},"required":["city_name"]}}}]}
                """))
        let native = try JSONParser.parse(
            """
            {"contents":[{"parts":[{"text":"Weather in Paris?"}],"role":"user"}],
             "system_instruction":{"parts":[{"text":"Be brief."}]},
             "tools":[{"function_declarations":[{"description":"Weather","name":"get_weather",
               "parameters_json_schema":{"required":["city_name"],"properties":{"city_name":{"type":"string"}},"type":"object"}}]}],
             "generation_config":{"max_output_tokens":64,"temperature":5e-1,"candidate_count":1}}
            """)
        let fromChat = CacheKey.make(endpoint: .generate, model: chat.model, scope: "team-a", body: .object(chat.gemini))
        let fromNative = CacheKey.make(endpoint: .generate, model: "models/gemini-2.5-flash", scope: "team-a", body: native)
        #expect(fromChat == fromNative)

        var streamless = try ChatRequest.translate(
            try JSONParser.parse(
                #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Weather in Paris?"}],"reasoning_effort":"low"}"#
            ))
        let before = CacheKey.make(endpoint: .generate, model: streamless.model, scope: "t", body: .object(streamless.gemini))
        streamless.applyThinking(upstreamModel: "gemini-2.5-flash")
        let after = CacheKey.make(endpoint: .generate, model: streamless.model, scope: "t", body: .object(streamless.gemini))
        #expect(before != after)  // reasoning effort reaches the key through the body
    }
}
