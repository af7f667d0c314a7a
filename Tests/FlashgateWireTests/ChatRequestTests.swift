import FlashgateCore
import Foundation
import Testing

@testable import FlashgateWire

@Suite struct ChatRequestTests {
    func translate(_ json: String) throws -> ChatRequest { try ChatRequest.translate(try JSONParser.parse(json)) }

    func invalid(_ json: String) -> FlashgateError? {
        do {
            _ = try translate(json)
            return nil
        } catch let error as FlashgateError {
            return error
        } catch {
            return nil
        }
    }

    @Test func textChatMapsToGenerateContent() throws {
        let chat = try translate(
            """
            {"model":"gemini-3.5-flash","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"No emoji."}]},
              {"role":"user","content":"Hi"},
              {"role":"assistant","content":"Hello"},
              {"role":"user","content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]},
              {"role":"user","content":"C"}],
             "temperature":0.2,"top_p":0.9,"max_tokens":100,"stop":"END","seed":7,
             "presence_penalty":0.5,"frequency_penalty":-0.5,"user":"u-1","store":true,"logit_bias":{"1":2},
             "stream":true,"stream_options":{"include_usage":true}}
            """)
        #expect(chat.model == "gemini-3.5-flash")
        #expect(chat.stream && chat.includeUsage)
        let expected = try JSONParser.parse(
            """
            {"contents":[{"role":"user","parts":[{"text":"Hi"}]},{"role":"model","parts":[{"text":"Hello"}]},
              {"role":"user","parts":[{"text":"A"},{"text":"B"},{"text":"C"}]}],
             "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"No emoji."}]},
             "generationConfig":{"temperature":0.2,"topP":0.9,"maxOutputTokens":100,"stopSequences":["END"],"seed":7,
               "presencePenalty":0.5,"frequencyPenalty":-0.5}}
            """)
        #expect(JSONValue.object(chat.gemini) == expected)
    }

    @Test func maxCompletionTokensWinsAndNMapsToCandidateCount() throws {
        let chat = try translate(
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"max_completion_tokens":9,"n":2}"#)
        #expect(chat.gemini["generationConfig"]?["maxOutputTokens"]?.intValue == 9)
        #expect(chat.gemini["generationConfig"]?["candidateCount"]?.intValue == 2)
        #expect(chat.candidateCount == 2)
    }

    @Test func responseFormatJSONSchema() throws {
        let chat = try translate(
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}}}"#
        )
        #expect(chat.gemini["generationConfig"]?["responseMimeType"]?.stringValue == "application/json")
        #expect(chat.gemini["generationConfig"]?["responseJsonSchema"] == ["type": "object"])
    }

    @Test func badInputNamesTheField() {
        #expect(invalid(#"{"messages":[{"role":"user","content":"x"}]}"#)?.param == "model")
        #expect(invalid(#"{"model":"m"}"#)?.param == "messages")
        #expect(invalid(#"{"model":"m","messages":"hi"}"#)?.message.contains("'messages' must be an array") == true)
        #expect(invalid(#"{"model":"m","messages":[]}"#)?.param == "messages")
        #expect(invalid(#"{"model":"m","messages":[{"content":"x"}]}"#)?.param == "messages[0].role")
        #expect(invalid(#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#)?.param == "messages[0].role")
        #expect(invalid(#"{"model":"m","messages":[{"role":"user","content":5}]}"#)?.param == "messages[0].content")
        #expect(invalid(#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#)?.param == "temperature")
        #expect(invalid(#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#)?.param == "temperature")
        #expect(invalid(#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#)?.param == "max_tokens")
        #expect(invalid(#"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]}"#)?.param == "stop")
        #expect(invalid(#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#)?.param == "stream")
        #expect(invalid(#"[1]"#)?.httpStatus == 400)
        #expect(invalid(#"{"model":"m","messages":[{"role":"system","content":"only system"}]}"#)?.param == "messages")
    }


    /// Gemini's seed is a 32-bit integer: past it, a 400 naming `seed` (it had gone upstream
    /// and come back as Gemini's own 400).
    @Test func aSeedOutsideInt32IsRefused() throws {
        #expect(throws: FlashgateError.self) {
            _ = try translate(#"{"model":"m","seed":99999999999,"messages":[{"role":"user","content":"x"}]}"#)
        }
        let fits = try translate(#"{"model":"m","seed":-2147483648,"messages":[{"role":"user","content":"x"}]}"#)
        #expect(fits.gemini["generationConfig"]?["seed"]?.intValue == -2_147_483_648)
    }

    /// A tool result's non-text parts are refused where they stand; they had been dropped
    /// without a word, so the model never saw the image a tool returned.
    @Test func aToolResultsNonTextPartsAreRefused() throws {
        let body =
            #"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"ok"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}"#
        #expect {
            _ = try translate(body)
        } throws: { error in
            (error as? FlashgateError)?.param == "messages[2].content[1]"
        }
        let text = try translate(body.replacingOccurrences(
            of: #",{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}"#, with: ""))
        #expect(text.gemini["contents"]?[2]?["parts"]?[0]?["functionResponse"]?["response"]?["result"] == "ok")
    }

    /// `detail` becomes a per-part `mediaResolution`, which Gemini 3 reads; a Gemini 2.x model
    /// gets the part without it (it had been sent to every model, and many clients send
    /// `detail` by default). Model ids that are not Gemini's keep it.
    @Test func perPartResolutionGoesOnlyToGemini3() throws {
        let body =
            #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}}]}]}"#
        func resolution(_ model: String) throws -> JSONValue? {
            var request = try translate(body)
            request.dropPartResolutions(upstreamModel: model)
            return request.gemini["contents"]?[0]?["parts"]?[1]?["mediaResolution"]
        }
        #expect(try resolution("gemini-3.5-flash") == ["level": "MEDIA_RESOLUTION_HIGH"])
        #expect(try resolution("gemini-2.5-flash") == nil)
        #expect(try resolution("gemini-2.0-flash-lite") == nil)
        #expect(try resolution("custom-model") == ["level": "MEDIA_RESOLUTION_HIGH"])
        var plain = try translate(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#)
        #expect(!plain.partResolutions)
        plain.dropPartResolutions(upstreamModel: "gemini-2.5-flash")
    }
}
