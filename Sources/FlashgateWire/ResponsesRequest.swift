import FlashgateCore

/// An OpenAI Responses request (`POST /v1/responses`) after validation: the same `ChatRequest`
/// (and so the same canonical Gemini body) the equivalent chat-completions request gives, plus
/// what only the Responses side needs — how to answer, whether to store, and the signatures its
/// reasoning items carried.
///
/// Invariant: Responses input is translated into chat `messages` and chat fields, then through
/// `ChatRequest.translate`, so both APIs share one translation onto Gemini and the cache key
/// follows from the Gemini body alone. Every field is either mapped, accepted and dropped, or
/// refused with a 400 naming it.
package struct ResponsesRequest: Sendable {
    package var chat: ChatRequest
    package var stream: Bool
    /// `store` (default true): keep the answer for `GET` and `previous_response_id`.
    package var store: Bool
    package var previousResponseID: String?
    /// `include` has `reasoning.encrypted_content`: reasoning items carry their sealed signature.
    package var includeEncrypted: Bool
    /// Request fields a response object echoes (`instructions`, `tools`, `text`, …).
    package var echo: JSONObject
    /// Every input item this request answers, history first: what a stored answer continues from.
    package var items: [JSONValue]
    /// Signatures opened from the reasoning items' `encrypted_content`, by the call id of the first
    /// function call after each, with the route that issued them.
    package var sealedSignatures: [String: StoredSignature]
    /// How the request names the fields of `chat` (`messages[1]` is `input[0]`), for errors
    /// raised after translation, such as a media fetch that fails.
    package var paramNames = ResponsesParamNames()

    package init(chat: ChatRequest) {
        self.chat = chat
        stream = false
        store = true
        includeEncrypted = false
        echo = JSONObject()
        items = []
        sealedSignatures = [:]
    }
}

extension ResponsesRequest {
    /// Fields accepted and not forwarded: Gemini has no use for them.
    static let droppedFields: Set<String> = [
        "metadata", "user", "safety_identifier", "prompt_cache_key", "prompt_cache_retention", "truncation",
        "parallel_tool_calls", "stream_options", "store", "previous_response_id", "include",
    ]

    /// The `include` values Flashgate knows; only `reasoning.encrypted_content` changes the answer.
    static let includable: Set<String> = [
        "reasoning.encrypted_content", "message.output_text.logprobs", "web_search_call.results",
        "web_search_call.action.sources", "message.input_image.image_url",
    ]

    /// `metadata` as OpenAI takes it (it is echoed back, so it is held to the same shape): at
    /// most 16 pairs, keys up to 64 characters, string values up to 512.
    static func checkMetadata(_ value: JSONValue?) throws(FlashgateError) {
        guard let value, !value.isNull else { return }
        guard let object = value.objectValue, object.fields.count <= 16 else {
            throw .invalid("'metadata' must be an object of at most 16 string pairs", param: "metadata")
        }
        for field in object.fields {
            guard field.key.count <= 64, let text = field.value.stringValue, text.count <= 512 else {
                throw .invalid(
                    "'metadata' keys are strings up to 64 characters and values strings up to 512",
                    param: "metadata.\(field.key.prefix(64))")
            }
        }
    }

    /// Parses and translates a Responses body.
    /// - Parameters:
    ///   - history: the items of the stored response `previous_response_id` names (empty without one).
    ///   - unseal: opens a reasoning item's `encrypted_content`; nil when this install did not seal
    ///     it for the caller's team.
    package static func translate(
        _ body: JSONValue, history: [JSONValue] = [], unseal: (String) -> StoredSignature?
    ) throws(FlashgateError) -> ResponsesRequest {
        guard let object = body.objectValue else { throw .invalid("the request body must be a JSON object") }
        for field in object.fields where !field.value.isNull {
            guard known.contains(field.key) else {
                throw .invalid("'\(field.key)' is not supported by Flashgate's Responses API", param: field.key)
            }
        }
        if object["background"]?.boolValue == true {
            throw .invalid("'background' responses are not supported; use stream instead", param: "background")
        }
        guard let model = object["model"]?.stringValue, !model.isEmpty else {
            throw .invalid("'model' is required and must be a non-empty string", param: "model")
        }
        try checkMetadata(object["metadata"])
        let input = try inputItems(object["input"])
        var chatBody: JSONObject = ["model": .string(model)]
        let echo = try ResponsesEcho.make(object)
        var conversion = ResponsesInput()
        if let instructions = object["instructions"], !instructions.isNull {
            guard let text = instructions.stringValue else {
                throw .invalid("'instructions' must be a string", param: "instructions")
            }
            conversion.instructions(text)
        }
        try conversion.add(history, param: { _ in "previous_response_id" }, unseal: unseal)
        try conversion.add(input, param: { "input[\($0)]" }, unseal: unseal)
        chatBody["messages"] = .array(conversion.messages)
        try ResponsesOptions.apply(object, to: &chatBody)

        var chat: ChatRequest
        do throws(FlashgateError) {
            chat = try ChatRequest.translate(.object(chatBody))
        } catch {
            throw conversion.renamed(error)
        }
        if let allowed = try ResponsesOptions.allowedTools(object["tool_choice"]) {
            chat.gemini["toolConfig"] = ["functionCallingConfig": allowed]
        }
        var request = ResponsesRequest(chat: chat)
        request.stream = try flag(object, "stream") ?? false
        request.store = try flag(object, "store") ?? true
        if let previous = object["previous_response_id"], !previous.isNull {
            guard let id = previous.stringValue, !id.isEmpty else {
                throw .invalid("'previous_response_id' must be a non-empty string", param: "previous_response_id")
            }
            request.previousResponseID = id
        }
        request.includeEncrypted = try includes(object["include"]).contains("reasoning.encrypted_content")
        request.echo = echo
        request.items = history + input
        request.sealedSignatures = conversion.sealedSignatures
        request.paramNames = conversion.paramNames
        return request
    }

    /// Every top-level field the Responses API defines that Flashgate maps, drops or refuses by name.
    static let known: Set<String> = droppedFields.union([
        "model", "input", "instructions", "tools", "tool_choice", "text", "reasoning", "max_output_tokens",
        "temperature", "top_p", "top_logprobs", "service_tier", "stream", "background",
    ])

    /// `input`: a string (one user message) or a list of items.
    private static func inputItems(_ value: JSONValue?) throws(FlashgateError) -> [JSONValue] {
        guard let value, !value.isNull else { throw .invalid("'input' is required", param: "input") }
        if let text = value.stringValue { return [["type": "message", "role": "user", "content": .string(text)]] }
        guard let items = value.arrayValue else {
            throw .invalid("'input' must be a string or an array of items, got \(value.typeName)", param: "input")
        }
        return items
    }

    private static func flag(_ object: JSONObject, _ key: String) throws(FlashgateError) -> Bool? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let flag = value.boolValue else { throw .invalid("'\(key)' must be a boolean", param: key) }
        return flag
    }

    private static func includes(_ value: JSONValue?) throws(FlashgateError) -> Set<String> {
        guard let value, !value.isNull else { return [] }
        guard let items = value.arrayValue else {
            throw .invalid("'include' must be an array of strings", param: "include")
        }
        var result: Set<String> = []
        for (i, item) in items.enumerated() {
            guard let name = item.stringValue, includable.contains(name) else {
                throw .invalid(
                    "'include[\(i)]' must be one of \(includable.sorted().joined(separator: ", "))",
                    param: "include[\(i)]")
            }
            result.insert(name)
        }
        return result
    }
}
