import FlashgateCore

/// Turns OpenAI `messages` into Gemini `contents` and `systemInstruction`. System and developer
/// messages become the system instruction; consecutive turns of one role merge into one
/// Content, as Gemini expects alternating turns.
enum MessageTranslator {
    static func translate(_ messages: [JSONValue]) throws(FlashgateError) -> (system: JSONValue?, contents: [JSONValue]) {
        var systemParts: [JSONValue] = []
        var contents: [(role: String, parts: [JSONValue])] = []

        for (index, message) in messages.enumerated() {
            let param = "messages[\(index)]"
            guard let object = message.objectValue else {
                throw .invalid("'\(param)' must be an object, got \(message.typeName)", param: param)
            }
            guard let role = object["role"]?.stringValue else {
                throw .invalid("'\(param).role' is required and must be a string", param: "\(param).role")
            }
            let geminiRole: String
            switch role {
            case "system", "developer":
                systemParts.append(contentsOf: try textParts(object["content"], param: "\(param).content", required: true))
                continue
            case "user": geminiRole = "user"
            case "assistant": geminiRole = "model"
            case "tool", "function":
                throw .invalid("tool messages are not supported by this Flashgate version yet", param: "\(param).role")
            default:
                throw .invalid(
                    "'\(param).role' must be one of system, developer, user, assistant or tool; got '\(role)'",
                    param: "\(param).role")
            }
            if object["tool_calls"] != nil && object["tool_calls"]?.isNull == false {
                throw .invalid("tool calls are not supported by this Flashgate version yet", param: "\(param).tool_calls")
            }
            let parts = try textParts(
                object["content"], param: "\(param).content", required: role == "user", media: role == "user")
            if parts.isEmpty { continue }
            if let last = contents.last, last.role == geminiRole {
                contents[contents.count - 1].parts.append(contentsOf: parts)
            } else {
                contents.append((geminiRole, parts))
            }
        }
        guard !contents.isEmpty else {
            throw .invalid("'messages' must contain at least one user or assistant message", param: "messages")
        }
        let system: JSONValue? = systemParts.isEmpty ? nil : ["parts": .array(systemParts)]
        return (system, contents.map { ["role": .string($0.role), "parts": .array($0.parts)] })
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
