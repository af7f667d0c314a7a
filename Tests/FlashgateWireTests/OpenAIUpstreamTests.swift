import FlashgateCore
import Testing

@testable import FlashgateWire

@Suite struct OpenAIUpstreamTests {
    func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    func request(_ body: String, model: String = "gpt-x", stream: Bool = false) throws -> JSONValue {
        try OpenAIUpstream.request(fromGemini: json(body), model: model, stream: stream)
    }

    /// Order-insensitive comparison form.
    func sorted(_ value: JSONValue) -> String { JSONWriter.string(CanonicalJSON.canonical(value, endpoint: .embed)) }

    func refusal(_ body: String, model: String = "gpt-x") throws -> FlashgateError? {
        do {
            _ = try request(body, model: model)
            return nil
        } catch let error as FlashgateError {
            return error
        }
    }

    // MARK: request

    @Test func systemUserAndGenerationConfig() throws {
        let out = try request(
            #"""
            {"systemInstruction":{"parts":[{"text":"Be brief."}]},
             "contents":[{"role":"user","parts":[{"text":"Hi"}]},{"role":"model","parts":[{"text":"Hel"},{"text":"lo"}]},
                         {"parts":[{"text":"a"},{"text":"b"}]}],
             "generationConfig":{"temperature":0.20,"topP":0.9,"topK":40,"maxOutputTokens":256,"stopSequences":["END"],
               "candidateCount":2,"seed":7,"presencePenalty":0.5,"frequencyPenalty":-0.5,"responseLogprobs":true,"logprobs":3},
             "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}
            """#, stream: true)
        let expected = try json(
            #"""
            {"model":"gpt-x","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},
              {"role":"assistant","content":"Hello"},
              {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
             "temperature":0.20,"top_p":0.9,"max_completion_tokens":256,"stop":["END"],"n":2,"seed":7,
             "presence_penalty":0.5,"frequency_penalty":-0.5,"logprobs":true,"top_logprobs":3,
             "stream":true,"stream_options":{"include_usage":true}}
            """#)
        #expect(out == expected, "\(JSONWriter.string(out))")
        let plain = try request(#"{"contents":[{"role":"user","parts":[{"text":"x"}]}]}"#)
        #expect(plain["stream"] == nil && plain["stream_options"] == nil)
    }

    @Test func snakeCaseFieldsAreRead() throws {
        let out = try request(
            #"""
            {"system_instruction":{"parts":[{"text":"S"}]},"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"image/png","data":"AAAA"}}]}],
             "generation_config":{"max_output_tokens":5,"thinking_config":{"include_thoughts":true,"thinking_level":"LOW"}}}
            """#)
        #expect(out["messages"]?[0] == ["role": "system", "content": "S"])
        #expect(out["messages"]?[1]?["content"]?[0]?["image_url"]?["url"] == "data:image/png;base64,AAAA")
        #expect(out["max_completion_tokens"] == 5)
        #expect(out["reasoning_effort"] == "low")
    }

    /// Two calls in one step (the first signed, the second not), answered by name; a later step
    /// with an id; thoughts dropped; results as JSON text.
    @Test func multiTurnToolConversation() throws {
        let out = try request(
            #"""
            {"contents":[
              {"role":"user","parts":[{"text":"Weather and time in Paris?"}]},
              {"role":"model","parts":[{"text":"Let me look.","thought":true},{"text":"Checking."},
                {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnLTE="},
                {"functionCall":{"name":"get_time","args":{"tz":"CET"}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_time","response":{"time":"12:00"}}},
                {"functionResponse":{"name":"get_weather","response":{"temp":21}}}]},
              {"role":"model","parts":[{"functionCall":{"id":"fc-9","name":"get_weather","args":{}},"thoughtSignature":"c2lnLTI="}]},
              {"role":"user","parts":[{"functionResponse":{"id":"fc-9","name":"get_weather","response":{"result":"rain"}}},{"text":"Thanks"}]}
            ],
            "tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}},
                                              {"name":"get_time","parameters":{"type":"OBJECT","properties":{"tz":{"type":"STRING","nullable":true}},"propertyOrdering":["tz"]}}]},
                     {"googleSearch":{}}],
            "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}
            """#)
        let expected = try json(
            #"""
            {"model":"gpt-x","messages":[
              {"role":"user","content":"Weather and time in Paris?"},
              {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
                 "extra_content":{"google":{"thought_signature":"c2lnLTE="}}},
                {"id":"call_1","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"{\"time\":\"12:00\"}"},
              {"role":"tool","tool_call_id":"call_0","content":"{\"temp\":21}"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"fc-9","type":"function","function":{"name":"get_weather","arguments":"{}"},
                 "extra_content":{"google":{"thought_signature":"c2lnLTI="}}}]},
              {"role":"tool","tool_call_id":"fc-9","content":"{\"result\":\"rain\"}"},
              {"role":"user","content":"Thanks"}],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}},
                      {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":["string","null"]}}}}}],
             "tool_choice":"auto"}
            """#)
        #expect(out == expected, "\(JSONWriter.string(out))")
    }

    /// A call the upstream returned (id and signature) goes back upstream unchanged next turn.
    @Test func signatureRoundTripsThroughBothDirections() throws {
        let completion = try json(
            #"""
            {"id":"resp-1","object":"chat.completion","model":"gemini-3-flash","choices":[{"index":0,"finish_reason":"tool_calls",
              "message":{"role":"assistant","content":null,"tool_calls":[
                {"id":"call_abc","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"},"extra_content":{"google":{"thought_signature":"U0lH"}}},
                {"id":"call_def","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"y\"}"}}]}}],
             "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}
            """#)
        let gemini = OpenAIUpstream.response(fromCompletion: completion)
        let content = gemini["candidates"]?[0]?["content"]
        #expect(
            content?["parts"]?[0] == [
                "functionCall": ["id": "call_abc", "name": "lookup", "args": ["q": "x"]], "thoughtSignature": "U0lH",
            ])
        #expect(content?["parts"]?[1]?["thoughtSignature"] == nil)
        #expect(gemini["candidates"]?[0]?["finishReason"] == "STOP")

        let next: JSONValue = [
            "contents": [
                ["role": "user", "parts": [["text": "find x and y"]]], content!,
                [
                    "role": "user",
                    "parts": [
                        ["functionResponse": ["id": "call_def", "name": "lookup", "response": ["r": "Y"]]],
                        ["functionResponse": ["id": "call_abc", "name": "lookup", "response": ["r": "X"]]],
                    ],
                ],
            ]
        ]
        let out = try OpenAIUpstream.request(fromGemini: next, model: "gemini-3-flash", stream: false)
        let calls = out["messages"]?[1]?["tool_calls"]
        #expect(calls?[0]?["id"] == "call_abc")
        #expect(calls?[0]?["extra_content"]?["google"]?["thought_signature"] == "U0lH")
        #expect(calls?[1]?["extra_content"] == nil)
        #expect(out["messages"]?[2]?["tool_call_id"] == "call_def")
        #expect(out["messages"]?[3]?["tool_call_id"] == "call_abc")
    }

    @Test func gemini3StepWithoutSignatureGetsTheStandIn() throws {
        let body = #"""
            {"contents":[{"role":"user","parts":[{"text":"q"}]},
              {"role":"model","parts":[{"functionCall":{"name":"a","args":{}}},{"functionCall":{"name":"b","args":{}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"a","response":{}}},{"functionResponse":{"name":"b","response":{}}}]}]}
            """#
        let three = try request(body, model: "gemini-3-pro-preview")
        #expect(
            three["messages"]?[1]?["tool_calls"]?[0]?["extra_content"]?["google"]?["thought_signature"]
                == .string(ChatRequest.skipSignature))
        #expect(three["messages"]?[1]?["tool_calls"]?[1]?["extra_content"] == nil)
        let other = try request(body, model: "gpt-5")
        #expect(other["messages"]?[1]?["tool_calls"]?[0]?["extra_content"] == nil)
    }

    @Test func unmatchedFunctionResponseIsRefused() throws {
        let error = try refusal(
            #"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"ghost","response":{}}}]}]}"#)
        #expect(error?.param == "contents[0].parts[0].functionResponse")
    }

    @Test func mediaParts() throws {
        let out = try request(
            #"""
            {"contents":[{"role":"user","parts":[{"text":"Look"},
              {"inlineData":{"mimeType":"image/jpeg","data":"/9j/"},"mediaResolution":{"level":"MEDIA_RESOLUTION_LOW"}},
              {"inlineData":{"mimeType":"audio/wav","data":"UklG"}},
              {"inlineData":{"mimeType":"audio/mpeg","data":"SUQz"}},
              {"inlineData":{"mimeType":"application/pdf","data":"JVBE"}},
              {"inlineData":{"mimeType":"audio/flac","data":"ZkxhQw==","displayName":"song.flac"}},
              {"fileData":{"mimeType":"image/png","fileUri":"https://example.com/cat.png"}}]}]}
            """#)
        let expected = try json(
            #"""
            [{"type":"text","text":"Look"},
             {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/","detail":"low"}},
             {"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}},
             {"type":"input_audio","input_audio":{"data":"SUQz","format":"mp3"}},
             {"type":"file","file":{"filename":"file.pdf","file_data":"data:application/pdf;base64,JVBE"}},
             {"type":"file","file":{"filename":"song.flac","file_data":"data:audio/flac;base64,ZkxhQw=="}},
             {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]
            """#)
        #expect(out["messages"]?[0]?["content"] == expected, "\(JSONWriter.string(out))")
        let modelImage = try refusal(
            #"{"contents":[{"role":"model","parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}]}"#)
        #expect(modelImage?.param == "contents[0].parts[0].inlineData")
        let systemImage = try refusal(
            #"{"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]},"contents":[{"parts":[{"text":"x"}]}]}"#
        )
        #expect(systemImage?.param == "systemInstruction.parts[0]")
    }

    @Test func structuredOutput() throws {
        let schema = try request(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}}"#
        )
        #expect(
            schema["response_format"]
                == (try json(
                    #"{"type":"json_schema","json_schema":{"name":"response","schema":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}}"#
                )))
        let openAPI = try request(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"ARRAY","items":{"type":"OBJECT","properties":{"type":{"type":"STRING","enum":["a","b"]}}}}}}"#
        )
        #expect(
            openAPI["response_format"]?["json_schema"]?["schema"]
                == (try json(
                    #"{"type":"array","items":{"type":"object","properties":{"type":{"type":"string","enum":["a","b"]}}}}"#
                )))
        let object = try request(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json"}}"#)
        #expect(object["response_format"] == ["type": "json_object"])
        let plain = try request(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"text/plain"}}"#)
        #expect(plain["response_format"] == nil)
        let enumType = try refusal(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"text/x.enum"}}"#)
        #expect(enumType?.param == "generationConfig.responseMimeType")
    }

    @Test(
        arguments: [
            (#"{"thinkingLevel":"HIGH","includeThoughts":true}"#, "high"),
            (#"{"thinkingLevel":"minimal"}"#, "minimal"),
            (#"{"thinkingBudget":0}"#, "none"),
            (#"{"thinkingBudget":512}"#, "low"),
            (#"{"thinkingBudget":1024}"#, "low"),
            (#"{"thinkingBudget":5000}"#, "medium"),
            (#"{"thinkingBudget":20000}"#, "high"),
            (#"{"thinkingBudget":-1}"#, nil),
            (#"{"includeThoughts":true}"#, nil),
        ] as [(String, String?)])
    func thinkingConfigToReasoningEffort(_ config: String, _ effort: String?) throws {
        let out = try request(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":\#(config)}}"#)
        #expect(out["reasoning_effort"] == effort.map { .string($0) })
    }

    @Test func thinkingLevelAndBudgetTogetherAreRefused() throws {
        let error = try refusal(
            #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"thinkingLevel":"LOW","thinkingBudget":10}}}"#
        )
        #expect(error?.kind == .invalidRequest)
    }

    @Test func functionCallingModes() throws {
        let tools = #""tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"},{"name":"c"}]}]"#
        func choice(_ config: String) throws -> (JSONValue?, [String]) {
            let out = try request(
                #"{"contents":[{"parts":[{"text":"x"}]}],\#(tools),"toolConfig":{"functionCallingConfig":\#(config)}}"#)
            let names = (out["tools"]?.arrayValue ?? []).compactMap { $0["function"]?["name"]?.stringValue }
            return (out["tool_choice"], names)
        }
        #expect(try choice(#"{"mode":"AUTO"}"#) == ("auto", ["a", "b", "c"]))
        #expect(try choice(#"{"mode":"NONE"}"#) == ("none", ["a", "b", "c"]))
        #expect(try choice(#"{"mode":"ANY"}"#) == ("required", ["a", "b", "c"]))
        #expect(
            try choice(#"{"mode":"ANY","allowedFunctionNames":["b"]}"#) == (
                ["type": "function", "function": ["name": "b"]], ["b"]
            ))
        #expect(try choice(#"{"mode":"ANY","allowedFunctionNames":["a","c"]}"#) == ("required", ["a", "c"]))
    }

    @Test(arguments: [
        (#""cachedContent":"cachedContents/abc""#, "cachedContent"),
        (#""tools":[{"codeExecution":{}}]"#, "tools[0].codeExecution"),
        (#""generationConfig":{"responseModalities":["TEXT","AUDIO"]}"#, "generationConfig.responseModalities"),
        (#""generationConfig":{"speechConfig":{}}"#, "generationConfig.speechConfig"),
        (#""frobnicate":1"#, "frobnicate"),
    ])
    func meaningChangingFieldsAreRefused(_ field: String, _ param: String) throws {
        let error = try refusal(#"{"contents":[{"parts":[{"text":"x"}]}],\#(field)}"#)
        #expect(error?.kind == .invalidRequest)
        #expect(error?.param == param)
    }

    @Test func textOnlyModalitiesAndDroppedToolsPass() throws {
        let out = try request(
            #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"googleSearch":{}}],"generationConfig":{"responseModalities":["TEXT"]},"labels":{"a":"b"}}"#
        )
        #expect(out["tools"] == nil)
        #expect(out.objectValue?.keys == ["model", "messages"])
    }

    // MARK: response

    @Test func completionToGeminiAndBackToOpenAI() throws {
        let completion = try json(
            #"""
            {"id":"chatcmpl-42","object":"chat.completion","created":1,"model":"gemini-2.5-flash",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Paris.","reasoning_content":"Capital of France."},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,
                      "prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":25}}}
            """#)
        let gemini = OpenAIUpstream.response(fromCompletion: completion)
        let expected = try json(
            #"""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"Capital of France.","thought":true},{"text":"Paris."}]},
                            "finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,"thoughtsTokenCount":25,"cachedContentTokenCount":8,"totalTokenCount":42},
             "modelVersion":"gemini-2.5-flash","responseId":"chatcmpl-42"}
            """#)
        #expect(gemini == expected, "\(JSONWriter.string(gemini))")

        let usage = try #require(TokenUsage(usageMetadata: gemini["usageMetadata"]))
        #expect(usage.promptTokens == 12 && usage.completionTokens == 30 && usage.thoughtsTokens == 25)
        #expect(usage.cachedTokens == 8 && usage.totalTokens == 42)

        let rendered = ChatResponse.render(gemini, model: "m", id: "chatcmpl-req1", created: 0)
        #expect(rendered.body["choices"]?[0]?["message"]?["content"] == "Paris.")
        #expect(rendered.body["choices"]?[0]?["message"]?["reasoning_content"] == "Capital of France.")
        #expect(rendered.body["choices"]?[0]?["finish_reason"] == "stop")
        #expect(rendered.body["usage"]?["completion_tokens"] == 30)
        #expect(rendered.body["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 8)
        #expect(rendered.usage == usage)
    }

    @Test func toolCallCompletionRendersBackAsToolCalls() throws {
        let gemini = OpenAIUpstream.response(
            fromCompletion: try json(
                #"""
                {"id":"x","model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
                  "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"},"extra_content":{"vertex":{"thought_signature":"VlNJRw=="}}}]}}],
                 "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}
                """#))
        let rendered = ChatResponse.render(gemini, model: "m", id: "chatcmpl-req1", created: 0)
        let choice = rendered.body["choices"]?[0]
        #expect(choice?["finish_reason"] == "tool_calls")
        #expect(choice?["message"]?["content"] == .null)
        #expect(choice?["message"]?["tool_calls"]?[0]?["function"]?["arguments"] == #"{"a":[1,2]}"#)
        #expect(rendered.signatures.map(\.signature) == ["VlNJRw=="])
        #expect(rendered.usage?.completionTokens == 4)
    }

    @Test(arguments: ["stop", "length", "tool_calls", "content_filter"])
    func finishReasonsRoundTrip(_ reason: String) throws {
        let gemini = try #require(OpenAIUpstream.finishReason(reason))
        #expect(FinishReason.openAI(gemini, hasToolCalls: reason == "tool_calls") == reason)
    }

    @Test func malformedToolArgumentsEndTheCandidate() throws {
        let gemini = OpenAIUpstream.response(
            fromCompletion: try json(
                #"{"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}}]}"#
            ))
        #expect(gemini["candidates"]?[0]?["finishReason"] == "MALFORMED_FUNCTION_CALL")
        var assembler = GeminiAnswerAssembler()
        assembler.add(gemini)
        #expect(assembler.isFinished && !assembler.isCompleteSuccess)
    }

    @Test func usageWithReasoningOutsideCompletionTokens() throws {
        let usage = OpenAIUpstream.usageMetadata(
            try json(
                #"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":35,"completion_tokens_details":{"reasoning_tokens":20}}"#
            ))
        #expect(
            usage == [
                "promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 20, "totalTokenCount": 35,
            ])
        #expect(TokenUsage(usageMetadata: usage)?.completionTokens == 25)
        let noTotal = OpenAIUpstream.usageMetadata(try json(#"{"prompt_tokens":2,"completion_tokens":3}"#))
        #expect(noTotal?["totalTokenCount"] == 5)
    }

    @Test func logprobsComeBack() throws {
        let gemini = OpenAIUpstream.response(
            fromCompletion: try json(
                #"{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.5,"top_logprobs":[{"token":"Hi","logprob":-0.5},{"token":"Yo","logprob":-2}]}]}}]}"#
            ))
        let rendered = ChatResponse.render(gemini, model: "m", id: "chatcmpl-req1", created: 0)
        let content = rendered.body["choices"]?[0]?["logprobs"]?["content"]?[0]
        #expect(content?["token"] == "Hi" && content?["logprob"] == .number("-0.5"))
        #expect(content?["top_logprobs"]?[1]?["token"] == "Yo")
    }

    // MARK: stream

    static let openAIChunks: [String] = [
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"reasoning_content":"Need weather."},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"content":"Let me "},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"content":"check."},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_w","type":"function","function":{"name":"get_weather","arguments":""},"extra_content":{"google":{"thought_signature":"c2ln"}}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_t","type":"function","function":{"name":"get_time","arguments":"{\"tz\":"}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}},{"index":1,"function":{"arguments":"\"CET\"}"}}]},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        #"{"id":"chatcmpl-s","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":15,"total_tokens":35,"completion_tokens_details":{"reasoning_tokens":6}}}"#,
    ]

    func translate(_ chunks: [String]) throws -> (events: [JSONValue], assembler: GeminiAnswerAssembler) {
        var translator = OpenAIUpstream.StreamTranslator()
        var events: [JSONValue] = []
        for chunk in chunks { events += try translator.feed(payload: Array(chunk.utf8)) }
        events += try translator.feed(payload: Array("[DONE]".utf8))
        events += translator.finish()
        var assembler = GeminiAnswerAssembler()
        events.forEach { assembler.add($0) }
        return (events, assembler)
    }

    /// An upstream's tool-call index is its own business, not arithmetic to trust: a call at
    /// index Int.max followed by one with no index numbered the second `Int.max + 1`, a trap that
    /// took the gateway down. Indices are kept within 0...Int32.max, in their order.
    @Test func toolCallIndicesAtTheEdgesOfIntAreNotATrap() throws {
        let chunks = [
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":9223372036854775807,"id":"c1","function":{"name":"f","arguments":"{}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"c2","function":{"name":"g","arguments":"{}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":-9223372036854775808,"id":"c3","function":{"name":"h","arguments":"{}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ]
        let (_, assembler) = try translate(chunks)
        let names = assembler.response["candidates"]?[0]?["content"]?["parts"]?.arrayValue?.compactMap {
            $0["functionCall"]?["name"]?.stringValue
        }
        #expect(names == ["h", "f", "g"], "\(JSONWriter.string(assembler.response))")
    }

    @Test func streamWithSplitToolArgumentsAndUsageChunk() throws {
        let (events, assembler) = try translate(Self.openAIChunks)
        // The empty role chunk says nothing; the pieces of the calls wait for the finish reason.
        #expect(events.count == 5, "\(events.map { JSONWriter.string($0) })")
        #expect(events[0]["candidates"]?[0]?["content"]?["parts"] == [["text": "Need weather.", "thought": true]])
        #expect(events.allSatisfy { $0["modelVersion"] == "gemini-3-flash" && $0["responseId"] == "chatcmpl-s" })
        #expect(events[3]["candidates"]?[0]?["finishReason"] == "STOP")
        #expect(events[4]["candidates"] == nil && events[4]["usageMetadata"] != nil)

        #expect(assembler.isFinished && assembler.isCompleteSuccess)
        let parts = assembler.response["candidates"]?[0]?["content"]?["parts"]
        let expected = try json(
            #"""
            [{"text":"Need weather.","thought":true},{"text":"Let me check."},
             {"functionCall":{"id":"call_w","name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"},
             {"functionCall":{"id":"call_t","name":"get_time","args":{"tz":"CET"}}}]
            """#)
        #expect(parts == expected, "\(JSONWriter.string(assembler.response))")
        let usage = try #require(TokenUsage(usageMetadata: assembler.response["usageMetadata"]))
        #expect(usage.promptTokens == 20 && usage.candidatesTokens == 9 && usage.thoughtsTokens == 6)
        #expect(usage.completionTokens == 15 && usage.totalTokens == 35)

        // The stream assembles to what the same answer sent whole translates to.
        let whole = OpenAIUpstream.response(
            fromCompletion: try json(
                #"""
                {"id":"chatcmpl-s","object":"chat.completion","model":"gemini-3-flash","choices":[{"index":0,"finish_reason":"tool_calls",
                  "message":{"role":"assistant","content":"Let me check.","reasoning_content":"Need weather.","tool_calls":[
                    {"id":"call_w","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"},"extra_content":{"google":{"thought_signature":"c2ln"}}},
                    {"id":"call_t","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}}]}}],
                 "usage":{"prompt_tokens":20,"completion_tokens":15,"total_tokens":35,"completion_tokens_details":{"reasoning_tokens":6}}}
                """#))
        #expect(sorted(assembler.response) == sorted(whole))

        // And it streams back to an OpenAI client as the same tool calls.
        var client = ChatStreamTranslator(model: "m", id: "chatcmpl-req1", created: 0, includeUsage: true)
        for event in events { _ = client.translate(event: event) }
        #expect(client.isComplete)
        #expect(client.signatures.map(\.signature) == ["c2ln"])
        #expect(client.usage?.completionTokens == 15)
    }

    /// Google's endpoint: a whole call without `index`, its signature in a later metadata-only
    /// delta, and `finish_reason: stop`.
    @Test func googleStyleWholeToolCallWithoutIndex() throws {
        let (_, assembler) = try translate([
            #"{"id":"g","model":"gemini-3-pro","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"id":"fn-1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]}}]}"#,
            #"{"id":"g","model":"gemini-3-pro","choices":[{"index":0,"delta":{"tool_calls":[{"extra_content":{"google":{"thought_signature":"TEFURQ=="}}}]}}]}"#,
            #"{"id":"g","model":"gemini-3-pro","choices":[{"index":0,"delta":{"tool_calls":[{"id":"fn-2","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        ])
        #expect(assembler.isCompleteSuccess)
        let parts = assembler.response["candidates"]?[0]?["content"]?["parts"]
        #expect(
            parts?[0] == [
                "functionCall": ["id": "fn-1", "name": "f", "args": ["x": 1]], "thoughtSignature": "TEFURQ==",
            ])
        #expect(parts?[1] == ["functionCall": ["id": "fn-2", "name": "g", "args": [:]]])
        #expect(assembler.response["usageMetadata"]?["totalTokenCount"] == 3)
    }

    @Test func cutOffStreamIsNotFinished() throws {
        let (events, assembler) = try translate(Array(Self.openAIChunks.prefix(8)))
        #expect(!assembler.isFinished)
        // finish() hands over the calls received so far, without a finish reason.
        let last = try #require(events.last)
        #expect(last["candidates"]?[0]?["finishReason"] == nil)
        #expect(last["candidates"]?[0]?["content"]?["parts"]?.arrayValue?.count == 2)
    }

    @Test func errorChunkAndBadPayloads() throws {
        var translator = OpenAIUpstream.StreamTranslator()
        let events = translator.feed(try json(#"{"error":{"message":"overloaded","type":"server_error","code":503}}"#))
        #expect(events == [["error": ["code": 503, "message": "overloaded", "status": "UNAVAILABLE"]]])
        var assembler = GeminiAnswerAssembler()
        assembler.add(events[0])
        #expect(!assembler.isFinished)
        #expect(throws: FlashgateError.self) { try translator.feed(payload: Array("not json".utf8)) }
    }

    // MARK: errors

    @Test(arguments: [
        (400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED"),
    ])
    func openAIErrorBecomesGoogleEnvelope(_ status: Int, _ name: String) throws {
        let body = Array(
            #"{"error":{"message":"Something \"bad\"","type":"invalid_request_error","param":null,"code":"x"}}"#.utf8)
        let out = try JSONParser.parse(OpenAIUpstream.geminiError(status: status, body: body))
        #expect(out == ["error": ["code": JSONValue(status), "message": #"Something "bad""#, "status": .string(name)]])
        // Flashgate's own reading of upstream errors finds the message again.
        #expect(
            FlashgateError.fromUpstream(status: status, body: OpenAIUpstream.geminiError(status: status, body: body))
                .message == #"Something "bad""#)
    }

    @Test func nonJSONAndNativeErrorBodies() throws {
        let generic = try JSONParser.parse(
            OpenAIUpstream.geminiError(status: 502, body: Array("<html>Bad gateway</html>".utf8)))
        #expect(generic == ["error": ["code": 502, "message": "upstream answered HTTP 502", "status": "UNAVAILABLE"]])
        let native = try JSONParser.parse(
            OpenAIUpstream.geminiError(
                status: 429,
                body: Array(
                    #"[{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]}}]"#
                        .utf8)))
        #expect(native["error"]?["status"] == "RESOURCE_EXHAUSTED")
        #expect(native["error"]?["details"]?[0]?["retryDelay"] == "3s")
        let plainString = try JSONParser.parse(
            OpenAIUpstream.geminiError(status: 400, body: Array(#"{"error":"bad model"}"#.utf8)))
        #expect(plainString["error"]?["message"] == "bad model")
    }
}
