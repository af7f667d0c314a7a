import FlashgateCore

extension OpenAIUpstream {
    /// Gemini `contents` → OpenAI `messages`, turn by turn.
    ///
    /// - `user` turns: text and media become one user message; `functionResponse` parts become
    ///   `tool` messages, placed before it (OpenAI wants results right after the calls).
    /// - `model` turns: text becomes the assistant `content`, `functionCall` parts its
    ///   `tool_calls`; thought parts are dropped (they are the model's, never replayed as text).
    ///
    /// Tool-call ids are the calls' own `id`s, or `call_<n>` numbered over the conversation. A
    /// result finds its call by `id`, else by name among the calls not yet answered, in order.
    struct Conversation {
        let enforceSignatures: Bool
        var messages: [JSONValue] = []
        private var generated = 0
        private var usedIDs: Set<String> = []
        /// Calls without a result yet, oldest first.
        private var pending: [(id: String, name: String)] = []

        init(enforceSignatures: Bool) { self.enforceSignatures = enforceSignatures }

        mutating func add(_ content: JSONValue, param: String) throws(FlashgateError) {
            guard content.objectValue != nil else { throw .invalid("'\(param)' must be an object", param: param) }
            guard let parts = content["parts"]?.arrayValue else {
                throw .invalid("'\(param).parts' must be an array", param: "\(param).parts")
            }
            switch content["role"]?.stringValue ?? "user" {
            case "user", "function", "tool": try addUser(parts, param: param)
            case "model": try addModel(parts, param: param)
            case let role:
                throw .invalid("'\(param).role' must be user or model, got '\(role)'", param: "\(param).role")
            }
        }

        private mutating func addUser(_ parts: [JSONValue], param: String) throws(FlashgateError) {
            var items: [JSONValue] = []
            var texts: [String] = []
            var onlyText = true
            for (j, part) in parts.enumerated() {
                let p = "\(param).parts[\(j)]"
                guard part.objectValue != nil else { throw .invalid("'\(p)' must be an object", param: p) }
                if part["thought"]?.boolValue == true { continue }
                if let text = part["text"]?.stringValue {
                    texts.append(text)
                    items.append(["type": "text", "text": .string(text)])
                } else if let response = GeminiField.value(part, "functionResponse") {
                    messages.append(try toolMessage(response, param: "\(p).functionResponse"))
                } else if let media = try OpenAIUpstream.mediaPart(part, param: p) {
                    onlyText = false
                    items.append(media)
                } else {
                    throw unsupported(part, param: p)
                }
            }
            guard !items.isEmpty else { return }
            messages.append(["role": "user", "content": onlyText ? OpenAIUpstream.textContent(texts) : .array(items)])
        }

        private mutating func addModel(_ parts: [JSONValue], param: String) throws(FlashgateError) {
            var text: String?
            var calls: [JSONValue] = []
            for (j, part) in parts.enumerated() {
                let p = "\(param).parts[\(j)]"
                guard part.objectValue != nil else { throw .invalid("'\(p)' must be an object", param: p) }
                if part["thought"]?.boolValue == true { continue }
                if let call = GeminiField.value(part, "functionCall") {
                    let signature = GeminiField.value(part, "thoughtSignature")?.stringValue
                    calls.append(
                        try toolCall(call, signature: signature, first: calls.isEmpty, param: "\(p).functionCall"))
                } else if let piece = part["text"]?.stringValue {
                    // A signature on a text part has no OpenAI slot; the text itself is kept.
                    text = (text ?? "") + piece
                } else {
                    throw unsupported(part, param: p, turn: "model")
                }
            }
            guard text != nil || !calls.isEmpty else { return }
            var message: JSONObject = ["role": "assistant", "content": text.map { .string($0) } ?? .null]
            if !calls.isEmpty { message["tool_calls"] = .array(calls) }
            messages.append(.object(message))
        }

        private mutating func toolCall(
            _ call: JSONValue, signature: String?, first: Bool, param: String
        ) throws(FlashgateError) -> JSONValue {
            guard let name = call["name"]?.stringValue, !name.isEmpty else {
                throw .invalid("'\(param).name' is required", param: "\(param).name")
            }
            var id = call["id"]?.stringValue ?? ""
            while id.isEmpty || usedIDs.contains(id) {
                id = "call_\(generated)"
                generated += 1
            }
            usedIDs.insert(id)
            pending.append((id, name))
            let args = call["args"].flatMap { $0.isNull ? nil : $0 } ?? .object(JSONObject())
            var entry: JSONObject = [
                "id": .string(id), "type": "function",
                "function": ["name": .string(name), "arguments": .string(JSONWriter.string(args))],
            ]
            // Gemini 3 wants the signature of each step's first call back; without one the
            // documented stand-in keeps Google's endpoint from refusing the history.
            let carried = signature ?? (first && enforceSignatures ? ChatRequest.skipSignature : nil)
            if let carried { entry["extra_content"] = ["google": ["thought_signature": .string(carried)]] }
            return .object(entry)
        }

        private mutating func toolMessage(_ response: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
            let name = response["name"]?.stringValue ?? ""
            if let parts = response["parts"]?.arrayValue, !parts.isEmpty {
                throw .invalid(
                    "'\(param).parts' (media in a function result) is not supported on an OpenAI-compatible route",
                    param: "\(param).parts")
            }
            let index: Int?
            if let id = response["id"]?.stringValue, let byID = pending.firstIndex(where: { $0.id == id }) {
                index = byID
            } else {
                index = pending.firstIndex(where: { $0.name == name })
            }
            guard let index else {
                throw .invalid("'\(param)' (\(name)) answers no earlier functionCall", param: param)
            }
            let id = pending.remove(at: index).id
            let result = response["response"].flatMap { $0.isNull ? nil : $0 } ?? .object(JSONObject())
            return ["role": "tool", "tool_call_id": .string(id), "content": .string(JSONWriter.string(result))]
        }

        private func unsupported(_ part: JSONValue, param: String, turn: String = "user") -> FlashgateError {
            let kind = part.objectValue?.keys.first {
                !["thought", "thoughtSignature", "thought_signature"].contains($0)
            }
            guard let kind else { return .invalid("'\(param)' has no content", param: param) }
            return .invalid(
                "'\(param).\(kind)' is not supported in a \(turn) turn on an OpenAI-compatible route",
                param: "\(param).\(kind)")
        }
    }

    // MARK: media

    /// Audio MIME types OpenAI's `input_audio` takes, by format (the two it documents).
    static let inputAudioTypes: [String: Set<String>] = [
        "wav": [
            ContentPartTranslator.audioFormats["wav"] ?? "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave",
        ],
        "mp3": [ContentPartTranslator.audioFormats["mp3"] ?? "audio/mp3", "audio/mpeg", "audio/mpeg3", "audio/x-mp3"],
    ]

    /// `inlineData` → an `image_url` data URL (images), `input_audio` (wav, mp3) or a `file` part
    /// with a data URL (PDF, video, other audio, text); `fileData` → `image_url` with the URI,
    /// which the upstream fetches. Nil when the part holds no media.
    static func mediaPart(_ part: JSONValue, param: String) throws(FlashgateError) -> JSONValue? {
        if GeminiField.value(part, "videoMetadata") != nil {
            throw .invalid(
                "'\(param).videoMetadata' is not supported on an OpenAI-compatible route",
                param: "\(param).videoMetadata")
        }
        if let inline = GeminiField.value(part, "inlineData") {
            let p = "\(param).inlineData"
            guard let mimeType = GeminiField.value(inline, "mimeType")?.stringValue?.lowercased(), !mimeType.isEmpty
            else {
                throw .invalid("'\(p).mimeType' is required", param: "\(p).mimeType")
            }
            guard let data = inline["data"]?.stringValue, !data.isEmpty else {
                throw .invalid("'\(p).data' is required", param: "\(p).data")
            }
            let url = "data:\(mimeType);base64,\(data)"
            if mimeType.hasPrefix("image/") { return imagePart(url: url, part: part) }
            if let format = inputAudioTypes.first(where: { $0.value.contains(mimeType) })?.key {
                return ["type": "input_audio", "input_audio": ["data": .string(data), "format": .string(format)]]
            }
            let name = GeminiField.value(inline, "displayName")?.stringValue ?? defaultFilename(mimeType)
            return ["type": "file", "file": ["filename": .string(name), "file_data": .string(url)]]
        }
        if let file = GeminiField.value(part, "fileData") {
            guard let uri = GeminiField.value(file, "fileUri")?.stringValue, !uri.isEmpty else {
                throw .invalid("'\(param).fileData.fileUri' is required", param: "\(param).fileData.fileUri")
            }
            return imagePart(url: uri, part: part)
        }
        return nil
    }

    /// An `image_url` part; Gemini's per-part `mediaResolution` becomes `detail`.
    private static func imagePart(url: String, part: JSONValue) -> JSONValue {
        var image: JSONObject = ["url": .string(url)]
        switch GeminiField.value(part, "mediaResolution")?["level"]?.stringValue {
        case "MEDIA_RESOLUTION_LOW": image["detail"] = "low"
        case "MEDIA_RESOLUTION_HIGH", "MEDIA_RESOLUTION_ULTRA_HIGH": image["detail"] = "high"
        default: break
        }
        return ["type": "image_url", "image_url": .object(image)]
    }

    /// `file.pdf`, `file.mp4`, … from `MediaTypeGuess`'s table read backwards; `file` if unknown.
    static func defaultFilename(_ mimeType: String) -> String {
        let ext = MediaTypeGuess.byExtension.filter { $0.value == mimeType }.keys.sorted().first
        return ext.map { "file.\($0)" } ?? "file"
    }
}
