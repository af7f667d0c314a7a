import FlashgateCore
import Testing

@testable import FlashgateWire

/// Responses requests → the Gemini body, through the chat translators.
@Suite struct ResponsesRequestTests {
    func translate(
        _ body: String, history: [JSONValue] = [], unseal: (String) -> StoredSignature? = { _ in nil }
    )
        throws -> ResponsesRequest
    {
        try ResponsesRequest.translate(try JSONParser.parse(body), history: history, unseal: unseal)
    }

    func refusal(_ body: String, unseal: (String) -> StoredSignature? = { _ in nil }) -> FlashgateError? {
        do {
            _ = try translate(body, unseal: unseal)
            return nil
        } catch let error as FlashgateError {
            return error
        } catch {
            return nil
        }
    }

    @Test func textInputInstructionsAndOptions() throws {
        let request = try translate(
            #"{"model":"gemini-3.5-flash","instructions":"Be brief.","input":"Hi","max_output_tokens":50,"temperature":0.5,"top_p":0.9,"service_tier":"flex","text":{"format":{"type":"json_schema","name":"r","schema":{"type":"object"}},"verbosity":"low"},"reasoning":{"effort":"max","summary":"auto"},"include":["reasoning.encrypted_content"],"store":false,"stream":true,"metadata":{"k":"v"},"parallel_tool_calls":false,"prompt_cache_key":"c"}"#
        )
        let gemini = JSONValue.object(request.chat.gemini)
        #expect(gemini["systemInstruction"]?["parts"]?[0]?["text"]?.stringValue == "Be brief.")
        #expect(gemini["contents"]?[0]?["role"]?.stringValue == "user")
        #expect(gemini["contents"]?[0]?["parts"]?[0]?["text"]?.stringValue == "Hi")
        let config = gemini["generationConfig"]
        #expect(config?["maxOutputTokens"]?.intValue == 50)
        #expect(config?["responseMimeType"]?.stringValue == "application/json")
        #expect(config?["responseJsonSchema"]?["type"]?.stringValue == "object")
        #expect(gemini["serviceTier"]?.stringValue == "flex")
        #expect(request.chat.reasoningEffort == "xhigh")
        #expect(request.stream && !request.store && request.includeEncrypted)
        #expect(request.echo["metadata"]?["k"]?.stringValue == "v")
        #expect(request.echo["parallel_tool_calls"]?.boolValue == false)
    }

    /// Fields OpenAI types strictly are refused when they are not of their type, instead of
    /// passing on what the caller never meant: a call's `arguments` as an object had been
    /// replaced by `{}` (the model saw a call without its arguments), and `metadata` of any
    /// shape was echoed back.
    @Test func argumentsAndMetadataMustHaveTheirTypes() throws {
        let objectArguments = refusal(
            #"{"model":"m","input":[{"role":"user","content":"x"},{"type":"function_call","call_id":"c","name":"f","arguments":{"q":1}},{"type":"function_call_output","call_id":"c","output":"y"}]}"#)
        #expect(objectArguments?.param == "input[1].arguments")
        let missing = try translate(
            #"{"model":"m","input":[{"role":"user","content":"x"},{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c","output":"y"}]}"#)
        #expect(missing.chat.gemini["contents"]?[1]?["parts"]?[0]?["functionCall"]?["args"] == [:])
        #expect(refusal(#"{"model":"m","input":"x","metadata":{"a":1}}"#)?.param == "metadata.a")
        #expect(refusal(#"{"model":"m","input":"x","metadata":["a"]}"#)?.param == "metadata")
        let tooMany = (0..<17).map { #""k\#($0)":"v""# }.joined(separator: ",")
        #expect(refusal(#"{"model":"m","input":"x","metadata":{\#(tooMany)}}"#)?.param == "metadata")
        #expect(refusal(#"{"model":"m","input":"x","metadata":{"a":"b"}}"#) == nil)
    }

    @Test func multimodalMessageParts() throws {
        let request = try translate(
            #"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"What is this?"},{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"},{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},{"type":"input_file","filename":"a.pdf","file_data":"JVBERi0="}]}]}"#
        )
        let parts = JSONValue.object(request.chat.gemini)["contents"]?[0]?["parts"]?.arrayValue ?? []
        #expect(parts.count == 4)
        #expect(parts[1]["inlineData"]?["mimeType"]?.stringValue == "image/png")
        #expect(parts[1]["mediaResolution"]?["level"]?.stringValue == "MEDIA_RESOLUTION_HIGH")
        #expect(parts[2]["inlineData"]?["mimeType"]?.stringValue == "audio/wav")
        #expect(parts[3]["inlineData"]?["mimeType"]?.stringValue == "application/pdf")
    }

    @Test func toolsAndWebSearch() throws {
        let request = try translate(
            #"{"model":"m","input":"go","tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":true},{"type":"web_search_preview"}],"tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"f"}]}}"#
        )
        let gemini = JSONValue.object(request.chat.gemini)
        #expect(gemini["tools"]?[0]?["functionDeclarations"]?[0]?["name"]?.stringValue == "f")
        #expect(gemini["tools"]?[0]?["functionDeclarations"]?[0]?["parametersJsonSchema"] != nil)
        #expect(gemini["tools"]?[1]?["googleSearch"] != nil)
        #expect(gemini["toolConfig"]?["functionCallingConfig"]?["mode"]?.stringValue == "ANY")
        #expect(gemini["toolConfig"]?["functionCallingConfig"]?["allowedFunctionNames"]?[0]?.stringValue == "f")
        let named = try translate(
            #"{"model":"m","input":"go","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"f"}}"#
        )
        #expect(
            JSONValue.object(named.chat.gemini)["toolConfig"]?["functionCallingConfig"]?["allowedFunctionNames"]?[0]?
                .stringValue == "f")
    }

    /// A replayed tool turn (as Codex sends it with `store: false`): the run of calls becomes one
    /// model turn, the outputs one user turn with the names looked up by call id, and the sealed
    /// signature of the reasoning item goes to the first call.
    @Test func replayedToolTurnWithSealedReasoning() throws {
        let request = try translate(
            #"{"model":"gemini-3.5-flash","input":[{"role":"user","content":"find x and y"},{"type":"reasoning","summary":[{"type":"summary_text","text":"t"}],"encrypted_content":"SEALED"},{"type":"function_call","call_id":"c1","name":"lookup","arguments":"{\"q\":\"x\"}"},{"type":"function_call","call_id":"c2","name":"lookup","arguments":"{\"q\":\"y\"}"},{"type":"function_call_output","call_id":"c1","output":"X"},{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"Y"}]}]}"#
        ) { sealed in sealed == "SEALED" ? StoredSignature(route: "studio", signature: "UkVBTA==") : nil }
        #expect(request.sealedSignatures == ["c1": StoredSignature(route: "studio", signature: "UkVBTA==")])
        var chat = request.chat
        chat.attachSignatures(route: "studio", upstreamModel: "gemini-3.5-flash") { request.sealedSignatures[$0] }
        let contents = JSONValue.object(chat.gemini)["contents"]?.arrayValue ?? []
        #expect(contents.count == 3)
        #expect(contents[1]["role"]?.stringValue == "model")
        #expect(contents[1]["parts"]?[0]?["functionCall"]?["args"]?["q"]?.stringValue == "x")
        #expect(contents[1]["parts"]?[0]?["thoughtSignature"]?.stringValue == "UkVBTA==")
        #expect(contents[1]["parts"]?[1]?["thoughtSignature"] == nil)
        #expect(contents[2]["parts"]?[1]?["functionResponse"]?["name"]?.stringValue == "lookup")
        #expect(contents[2]["parts"]?[1]?["functionResponse"]?["response"]?["result"]?.stringValue == "Y")
        // On another route the sealed signature is not valid: the stand-in goes instead.
        var elsewhere = request.chat
        elsewhere.attachSignatures(route: "vertex", upstreamModel: "gemini-3.5-flash") { request.sealedSignatures[$0] }
        #expect(
            JSONValue.object(elsewhere.gemini)["contents"]?[1]?["parts"]?[0]?["thoughtSignature"]?.stringValue
                == SignatureOrigins.skipSignature)
    }

    @Test func historyComesFirstAndOutputsFindTheirCalls() throws {
        let history: [JSONValue] = [
            ["type": "message", "role": "user", "content": "find x"],
            ["type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"],
        ]
        let request = try translate(
            #"{"model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c1","output":"X"}]}"#,
            history: history)
        #expect(request.previousResponseID == "resp_1")
        #expect(request.items.count == 3)
        #expect(JSONValue.object(request.chat.gemini)["contents"]?.arrayValue?.count == 3)
    }

    @Test func refusalsNameTheResponsesField() {
        let cases: [(String, String)] = [
            (#"{"input":"x"}"#, "model"),
            (#"{"model":"m"}"#, "input"),
            (#"{"model":"m","input":"x","conversation":"c"}"#, "conversation"),
            (#"{"model":"m","input":"x","background":true}"#, "background"),
            (#"{"model":"m","input":"x","tools":[{"type":"file_search"}]}"#, "tools[0].type"),
            (#"{"model":"m","input":"x","include":["nope"]}"#, "include[0]"),
            (#"{"model":"m","input":"x","reasoning":{"effort":"huge"}}"#, "reasoning.effort"),
            (#"{"model":"m","input":"x","max_output_tokens":0}"#, "max_output_tokens"),
            (#"{"model":"m","input":"x","service_tier":"scale"}"#, "service_tier"),
            (#"{"model":"m","input":"x","text":{"format":{"type":"json_schema"}}}"#, "text.format.schema"),
            (
                #"{"model":"m","input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}"#,
                "input[1].content[0].file_id"
            ),
            (
                #"{"model":"m","input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_image","image_url":"ftp://x"}]}]}"#,
                "input[1].content[0].image_url.url"
            ),
            (
                #"{"model":"m","input":[{"role":"user","content":"a"},{"type":"function_call_output","call_id":"nope","output":"x"}]}"#,
                "input[1].call_id"
            ),
            (#"{"model":"m","input":[{"type":"item_reference","id":"x"}]}"#, "input[0].type"),
            (
                #"{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":"forged"}]}"#,
                "input[0].encrypted_content"
            ),
        ]
        for (body, param) in cases {
            let error = refusal(body)
            #expect(error?.kind == .invalidRequest, "\(body)")
            #expect(error?.param == param, "\(body): \(error?.param ?? "nil") \(error?.message ?? "")")
            #expect(!(error?.message.contains("messages") ?? true), "\(body): \(error?.message ?? "")")
        }
    }
}
