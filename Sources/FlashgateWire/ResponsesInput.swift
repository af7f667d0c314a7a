import FlashgateCore
import Foundation

/// Responses input items → chat `messages`, so `MessageTranslator` makes the Gemini `contents`.
/// A run of `function_call` items becomes one assistant message with `tool_calls` (one Gemini
/// step); each `function_call_output` a `tool` message; a `reasoning` item's sealed signature
/// goes to the first call of the run that follows it (Gemini 3 wants it there).
///
/// Invariant: every message remembers the request field it came from, so an error the chat
/// translator raises names the Responses field (`input[3].content[0]`), never `messages[…]`.
struct ResponsesInput {
    private(set) var messages: [JSONValue] = []
    /// The request field each message came from, by message index.
    private var origins: [String] = []
    private(set) var sealedSignatures: [String: StoredSignature] = [:]
    /// The index of the assistant message collecting the current run of function calls.
    private var openCalls: Int?
    /// The signature of the last reasoning item, waiting for the function call it belongs to.
    private var pendingSignature: StoredSignature?

    mutating func instructions(_ text: String) {
        append(["role": "system", "content": .string(text)], origin: "instructions")
    }

    mutating func add(
        _ items: [JSONValue], param: (Int) -> String, unseal: (String) -> StoredSignature?
    ) throws(FlashgateError) {
        for (i, item) in items.enumerated() {
            let p = param(i)
            guard let object = item.objectValue else {
                throw .invalid("'\(p)' must be an object, got \(item.typeName)", param: p)
            }
            let type = object["type"]?.stringValue ?? (object["role"] != nil ? "message" : "")
            switch type {
            case "message": try message(object, param: p)
            case "function_call": try functionCall(object, param: p)
            case "function_call_output": try functionOutput(object, param: p)
            case "reasoning":
                openCalls = nil
                if let sealed = object["encrypted_content"]?.stringValue, !sealed.isEmpty {
                    guard let opened = unseal(sealed) else {
                        throw .invalid(
                            "'\(p).encrypted_content' was not issued by this Flashgate for your team",
                            param: "\(p).encrypted_content")
                    }
                    pendingSignature = opened
                }
            case "item_reference":
                throw .invalid("'item_reference' items are not supported; send the item itself", param: "\(p).type")
            default:
                throw .invalid("input item type '\(type)' is not supported by Flashgate", param: "\(p).type")
            }
        }
    }

    private mutating func append(_ message: JSONObject, origin: String) {
        messages.append(.object(message))
        origins.append(origin)
    }

    private mutating func message(_ object: JSONObject, param p: String) throws(FlashgateError) {
        guard let role = object["role"]?.stringValue, ["user", "system", "developer", "assistant"].contains(role) else {
            throw .invalid("'\(p).role' must be one of user, system, developer or assistant", param: "\(p).role")
        }
        openCalls = nil
        if role != "assistant" { pendingSignature = nil }
        append(
            ["role": .string(role), "content": try ResponsesContent.parts(object["content"], param: "\(p).content")],
            origin: p)
    }

    private mutating func functionCall(_ object: JSONObject, param p: String) throws(FlashgateError) {
        let callID = try string(object["call_id"], "\(p).call_id")
        let name = try string(object["name"], "\(p).name")
        // A string of JSON, as OpenAI sends and takes it; a call that has none has no arguments.
        let arguments: String
        switch object["arguments"] {
        case nil, .null?: arguments = "{}"
        case .string(let text)?: arguments = text
        default: throw .invalid("'arguments' must be a string of JSON", param: "\(p).arguments")
        }
        let call: JSONValue = [
            "id": .string(callID), "type": "function",
            "function": ["name": .string(name), "arguments": .string(arguments)],
        ]
        if let index = openCalls, case .object(var open) = messages[index] {
            open["tool_calls"] = .array((open["tool_calls"]?.arrayValue ?? []) + [call])
            messages[index] = .object(open)
            return
        }
        append(["role": "assistant", "content": .null, "tool_calls": [call]], origin: p)
        openCalls = messages.count - 1
        if let signature = pendingSignature {
            sealedSignatures[callID] = signature
            pendingSignature = nil
        }
    }

    private mutating func functionOutput(_ object: JSONObject, param p: String) throws(FlashgateError) {
        let callID = try string(object["call_id"], "\(p).call_id")
        openCalls = nil
        pendingSignature = nil
        let text: String
        switch object["output"] {
        case .string(let s)?: text = s
        case .array(let parts)?: text = parts.compactMap { $0["text"]?.stringValue }.joined()
        default: throw .invalid("'\(p).output' must be a string or an array of input parts", param: "\(p).output")
        }
        append(["role": "tool", "tool_call_id": .string(callID), "content": .string(text)], origin: p)
    }

    private func string(_ value: JSONValue?, _ param: String) throws(FlashgateError) -> String {
        guard let s = value?.stringValue, !s.isEmpty else {
            throw .invalid("'\(param)' is required and must be a non-empty string", param: param)
        }
        return s
    }

    /// An error of the chat translator with its field named as the Responses request names it.
    func renamed(_ error: FlashgateError) -> FlashgateError {
        paramNames.renamed(error)
    }

    /// Where each message came from, kept by the request for errors raised after translation
    /// (a media fetch that fails).
    var paramNames: ResponsesParamNames { ResponsesParamNames(origins: origins) }
}

/// Names the fields of a chat request translated from a Responses request the way the Responses
/// request names them: `messages[2]` is the `input[…]` item it came from.
package struct ResponsesParamNames: Sendable {
    let origins: [String]

    package init() { origins = [] }

    init(origins: [String]) { self.origins = origins }

    /// `error` with its field (and the field in its message) renamed.
    package func renamed(_ error: FlashgateError) -> FlashgateError {
        var error = error
        error.param = error.param.map(rename)
        error.message = rename(error.message)
        return error
    }

    private func rename(_ text: String) -> String {
        var text = text
        for (index, origin) in origins.enumerated().reversed() {
            text = text.replacingOccurrences(of: "messages[\(index)]", with: origin)
        }
        for (chat, responses) in [
            ("'messages'", "'input'"), ("response_format.json_schema", "text.format"),
            ("response_format", "text.format"),
            ("max_completion_tokens", "max_output_tokens"), ("reasoning_effort", "reasoning.effort"),
            (".tool_call_id", ".call_id"),
        ] {
            text = text.replacingOccurrences(of: chat, with: responses)
        }
        return text == "messages" ? "input" : text
    }
}
