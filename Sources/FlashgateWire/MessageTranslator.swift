import FlashgateCore

/// Turns OpenAI `messages` into Gemini `contents` and `systemInstruction`. System and developer
/// messages become the system instruction; consecutive turns of one role merge into one
/// Content, as Gemini expects alternating turns.
enum MessageTranslator {
    /// The translated conversation.
    struct Output {
        var system: JSONValue?
        var contents: [JSONValue]
        /// The first function call of each assistant step, where a thought signature belongs.
        var signatureSlots: [SignatureSlot]
    }

    static func translate(_ messages: [JSONValue]) throws(FlashgateError) -> Output {
        var systemParts: [JSONValue] = []
        var contents: [(role: String, parts: [JSONValue])] = []
        var slots: [SignatureSlot] = []
        /// tool_call_id → function name, from the assistant messages seen so far.
        var callNames: [String: String] = [:]

        func append(_ parts: [JSONValue], role: String) -> (content: Int, firstPart: Int) {
            if let last = contents.last, last.role == role {
                let first = contents[contents.count - 1].parts.count
                contents[contents.count - 1].parts.append(contentsOf: parts)
                return (contents.count - 1, first)
            }
            contents.append((role, parts))
            return (contents.count - 1, 0)
        }

        for (index, message) in messages.enumerated() {
            let param = "messages[\(index)]"
            guard let object = message.objectValue else {
                throw .invalid("'\(param)' must be an object, got \(message.typeName)", param: param)
            }
            guard let role = object["role"]?.stringValue else {
                throw .invalid("'\(param).role' is required and must be a string", param: "\(param).role")
            }
            switch role {
            case "system", "developer":
                systemParts.append(contentsOf: try textParts(object["content"], param: "\(param).content", required: true))
            case "user":
                let parts = try textParts(object["content"], param: "\(param).content", required: true, media: true)
                if !parts.isEmpty { _ = append(parts, role: "user") }
            case "assistant":
                var parts = try textParts(object["content"], param: "\(param).content", required: false)
                let calls = try ToolCalls.parseAssistantCalls(object, param: param)
                for call in calls { callNames[call.id] = call.name }
                parts += calls.map(\.part)
                if parts.isEmpty { continue }
                let position = append(parts, role: "model")
                if let first = calls.first {
                    let partIndex = position.firstPart + parts.count - calls.count
                    slots.append(
                        SignatureSlot(
                            contentIndex: position.content, partIndex: partIndex, toolCallID: first.id,
                            providedSignature: first.signature))
                }
            case "tool", "function":
                let part = try ToolCalls.functionResponse(object, role: role, param: param, callNames: callNames)
                _ = append([part], role: "user")
            default:
                throw .invalid(
                    "'\(param).role' must be one of system, developer, user, assistant or tool; got '\(role)'",
                    param: "\(param).role")
            }
        }
        guard !contents.isEmpty else {
            throw .invalid("'messages' must contain at least one user or assistant message", param: "messages")
        }
        let system: JSONValue? = systemParts.isEmpty ? nil : ["parts": .array(systemParts)]
        return Output(
            system: system, contents: contents.map { ["role": .string($0.role), "parts": .array($0.parts)] },
            signatureSlots: slots)
    }

    /// A message's content: a string, or an array of content parts. With `media`, image, audio
    /// and file parts are translated too (`ContentPartTranslator`); without it they are a 400.
    static func textParts(
        _ content: JSONValue?, param: String, required: Bool, media: Bool = false
    ) throws(FlashgateError) -> [JSONValue] {
        guard let content, !content.isNull else {
            if required { throw .invalid("'\(param)' is required", param: param) }
            return []
        }
        if let text = content.stringValue { return [["text": .string(text)]] }
        guard let items = content.arrayValue else {
            throw .invalid("'\(param)' must be a string or an array of content parts, got \(content.typeName)", param: param)
        }
        var parts: [JSONValue] = []
        for (i, item) in items.enumerated() {
            let partParam = "\(param)[\(i)]"
            guard let type = item["type"]?.stringValue else {
                throw .invalid("'\(partParam).type' is required", param: "\(partParam).type")
            }
            switch type {
            case "text", "input_text":
                guard let text = item["text"]?.stringValue else {
                    throw .invalid("'\(partParam).text' must be a string", param: "\(partParam).text")
                }
                parts.append(["text": .string(text)])
            default:
                parts.append(try ContentPartTranslator.translate(item, type: type, param: partParam, allowMedia: media))
            }
        }
        return parts
    }
}
