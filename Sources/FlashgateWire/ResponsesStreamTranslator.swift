import FlashgateCore

/// Turns the Gemini events of one answer into Responses output items and the stream events the
/// openai SDK expects, in order: `response.created`, `response.in_progress`, then per item
/// `output_item.added` … deltas … `output_item.done`, and one closing `response.completed`,
/// `response.incomplete` or `response.failed` carrying usage. A non-streamed answer runs through
/// the same code and keeps only the final response object, so both forms say the same.
///
/// Invariants: every event has the next `sequence_number`; an item's deltas come only after it
/// was added, and every added item is done before the response closes; a stream that ends
/// without a finish reason closes as `response.failed`, never as a silently truncated success.
/// Gemini thought parts become a `reasoning` item; a thought signature becomes that item's sealed
/// `encrypted_content` (a reasoning item of its own, right before the call, when it rides on a
/// function call with no thoughts before it).
package struct ResponsesStreamTranslator: Sendable {
    let answer: ResponsesAnswer
    var sequence = 0
    var started = false
    /// Finished items, with `encrypted_content` always present (stored conversations need it).
    var items: [JSONObject] = []
    var reasoning: (index: Int, text: String, signature: String?)?
    var message: (index: Int, text: String)?
    var calls = 0
    var finishReason: String?
    var blocked = false
    var grounding: JSONValue?
    package private(set) var usage: TokenUsage?
    /// Thought signatures that came with function calls, by call id, for the signature vault.
    package private(set) var signatures: [(toolCallID: String, signature: String)] = []

    package init(_ answer: ResponsesAnswer) { self.answer = answer }

    /// The events for one Gemini stream event (only the first candidate: Responses has no `n`).
    package mutating func translate(event: JSONValue) -> [UInt8] {
        var out = startIfNeeded()
        if let usage = TokenUsage(usageMetadata: event["usageMetadata"]) { self.usage = usage }
        // A blocked prompt comes with no candidates, or with an empty list (both are Gemini's).
        if (event["candidates"]?.arrayValue ?? []).isEmpty, event["promptFeedback"]?["blockReason"] != nil {
            blocked = true
        }
        guard let candidate = event["candidates"]?.arrayValue?.first(where: { ($0["index"]?.intValue ?? 0) == 0 })
        else {
            return out
        }
        for part in candidate["content"]?["parts"]?.arrayValue ?? [] { out += translate(part: part) }
        if let metadata = candidate["groundingMetadata"] { grounding = metadata }
        if let reason = candidate["finishReason"]?.stringValue { finishReason = reason }
        return out
    }

    mutating func translate(part: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        let signature = part["thoughtSignature"]?.stringValue
        if part["thought"]?.boolValue == true, let text = part["text"]?.stringValue {
            out += closeMessage()
            out += openReasoning()
            if !text.isEmpty { out += reasoningDelta(text) }
            if let signature { reasoning?.signature = signature }
            return out
        }
        var signatureUsed = false
        if reasoning != nil {
            if let signature, reasoning?.signature == nil {
                reasoning?.signature = signature
                signatureUsed = true
            }
            out += closeReasoning()
        }
        if let call = part["functionCall"] {
            out += closeMessage()
            if let signature, !signatureUsed {
                out += openReasoning()
                reasoning?.signature = signature
                out += closeReasoning()
            }
            out += functionCall(call, signature: signature)
        } else if let text = part["text"]?.stringValue, !text.isEmpty {
            out += textDelta(text)
        }
        return out
    }

    mutating func textDelta(_ text: String) -> [UInt8] {
        let out = openMessage()
        guard var open = message else { return out }
        open.text += text
        message = open
        return out
            + emit(
                "response.output_text.delta",
                [
                    "item_id": .string(itemID("msg", open.index)), "output_index": JSONValue(open.index),
                    "content_index": 0, "delta": .string(text), "logprobs": [],
                ])
    }

    // MARK: Items

    mutating func openReasoning() -> [UInt8] {
        guard reasoning == nil else { return [] }
        // At most one item is open at a time, so the next index is the count of finished ones.
        let index = items.count
        reasoning = (index, "", nil)
        let item: JSONObject = ["id": .string(itemID("rs", index)), "type": "reasoning", "summary": []]
        return emit("response.output_item.added", ["output_index": JSONValue(index), "item": .object(item)])
    }

    mutating func reasoningDelta(_ text: String) -> [UInt8] {
        guard let open = reasoning else { return [] }
        var out: [UInt8] = []
        let base: JSONObject = [
            "item_id": .string(itemID("rs", open.index)), "output_index": JSONValue(open.index), "summary_index": 0,
        ]
        if open.text.isEmpty {
            out += emit(
                "response.reasoning_summary_part.added", base.merging(["part": ["type": "summary_text", "text": ""]]))
        }
        reasoning?.text += text
        out += emit("response.reasoning_summary_text.delta", base.merging(["delta": .string(text)]))
        return out
    }

    mutating func closeReasoning() -> [UInt8] {
        guard let open = reasoning else { return [] }
        reasoning = nil
        var out: [UInt8] = []
        var summary: [JSONValue] = []
        if !open.text.isEmpty {
            let base: JSONObject = [
                "item_id": .string(itemID("rs", open.index)), "output_index": JSONValue(open.index), "summary_index": 0,
            ]
            out += emit("response.reasoning_summary_text.done", base.merging(["text": .string(open.text)]))
            let part: JSONValue = ["type": "summary_text", "text": .string(open.text)]
            out += emit("response.reasoning_summary_part.done", base.merging(["part": part]))
            summary = [part]
        }
        var item: JSONObject = [
            "id": .string(itemID("rs", open.index)), "type": "reasoning", "summary": .array(summary),
        ]
        if let signature = open.signature { item["encrypted_content"] = .string(answer.seal(signature)) }
        return out + finishItem(item, index: open.index)
    }

    mutating func openMessage() -> [UInt8] {
        guard message == nil else { return [] }
        let index = items.count
        message = (index, "")
        let id = itemID("msg", index)
        let item: JSONObject = [
            "id": .string(id), "type": "message", "role": "assistant", "status": "in_progress", "content": [],
        ]
        return emit("response.output_item.added", ["output_index": JSONValue(index), "item": .object(item)])
            + emit(
                "response.content_part.added",
                [
                    "item_id": .string(id), "output_index": JSONValue(index), "content_index": 0,
                    "part": ["type": "output_text", "text": "", "annotations": []],
                ])
    }

    mutating func closeMessage() -> [UInt8] {
        guard let open = message else { return [] }
        message = nil
        let id = itemID("msg", open.index)
        let part: JSONValue = [
            "type": "output_text", "text": .string(open.text),
            "annotations": .array(ResponsesGrounding.annotations(grounding)),
            "logprobs": [],
        ]
        let base: JSONObject = ["item_id": .string(id), "output_index": JSONValue(open.index), "content_index": 0]
        let out =
            emit("response.output_text.done", base.merging(["text": .string(open.text), "logprobs": []]))
            + emit("response.content_part.done", base.merging(["part": part]))
        let item: JSONObject = [
            "id": .string(id), "type": "message", "role": "assistant", "status": "completed", "content": [part],
        ]
        return out + finishItem(item, index: open.index)
    }

    mutating func functionCall(_ call: JSONValue, signature: String?) -> [UInt8] {
        let index = items.count
        let callID = call["id"]?.stringValue ?? "call_\(answer.id.dropFirst(5))_\(calls)"
        calls += 1
        if let signature { signatures.append((callID, signature)) }
        let id = itemID("fc", index)
        let arguments = JSONWriter.string(call["args"] ?? .object(JSONObject()))
        var item: JSONObject = [
            "id": .string(id), "type": "function_call", "call_id": .string(callID), "name": call["name"] ?? "",
            "arguments": "", "status": "in_progress",
        ]
        let base: JSONObject = ["item_id": .string(id), "output_index": JSONValue(index)]
        var out = emit("response.output_item.added", ["output_index": JSONValue(index), "item": .object(item)])
        out += emit("response.function_call_arguments.delta", base.merging(["delta": .string(arguments)]))
        out += emit("response.function_call_arguments.done", base.merging(["arguments": .string(arguments)]))
        item["arguments"] = .string(arguments)
        item["status"] = "completed"
        return out + finishItem(item, index: index)
    }

    mutating func finishItem(_ item: JSONObject, index: Int) -> [UInt8] {
        items.append(item)
        return emit("response.output_item.done", ["output_index": JSONValue(index), "item": .object(shown(item))])
    }

    /// An item as the client sees it: `encrypted_content` only when the request included it.
    func shown(_ item: JSONObject) -> JSONObject {
        guard !answer.includeEncrypted, item["encrypted_content"] != nil else { return item }
        var item = item
        item["encrypted_content"] = nil
        return item
    }

    func itemID(_ kind: String, _ index: Int) -> String { "\(kind)_\(answer.id.dropFirst(5))_\(index)" }

    // MARK: Events

    mutating func startIfNeeded() -> [UInt8] {
        guard !started else { return [] }
        started = true
        let shell = JSONValue.object(response(status: "in_progress", output: []))
        return emit("response.created", ["response": shell]) + emit("response.in_progress", ["response": shell])
    }

    mutating func emit(_ type: String, _ fields: JSONObject) -> [UInt8] {
        defer { sequence += 1 }
        guard answer.stream else { return [] }
        var body: JSONObject = ["type": .string(type)]
        for field in fields.fields { body[field.key] = field.value }
        body["sequence_number"] = JSONValue(sequence)
        return Array("event: \(type)\n".utf8) + SSEEncoder.frame(.object(body))
    }
}

extension JSONObject {
    func merging(_ other: JSONObject) -> JSONObject {
        var merged = self
        for field in other.fields { merged[field.key] = field.value }
        return merged
    }
}
