import FlashgateCore

/// Translates one OpenAI content part that is not text (`image_url`, `input_audio`, `file`)
/// into a Gemini part. Data URLs and base64 become `inlineData`; `gs://` and YouTube URLs become
/// `fileData` (Gemini reads them itself); an http(s) URL becomes a placeholder that the gateway
/// fills with the fetched bytes before the request goes upstream (see `ChatRequest+Media`).
/// Every refusal is a 400 naming the exact field, e.g. `messages[0].content[1].image_url.url`.
enum ContentPartTranslator {
    /// The content part types this translator owns; any other non-text type is refused.
    static let mediaTypes: Set<String> = ["image_url", "input_audio", "file"]

    static func translate(_ item: JSONValue, type: String, param: String, allowMedia: Bool) throws(FlashgateError) -> JSONValue {
        guard mediaTypes.contains(type) else {
            throw .invalid("content part type '\(type)' is not supported by this Flashgate version yet", param: "\(param).type")
        }
        guard allowMedia else {
            throw .invalid(
                "'\(type)' parts are accepted only in user messages; system, developer and assistant messages take text only",
                param: "\(param).type")
        }
        switch type {
        case "image_url": return try imageURL(item, param: param)
        case "input_audio": return try inputAudio(item, param: param)
        default: return try file(item, param: param)
        }
    }

    // MARK: image_url

    private static func imageURL(_ item: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        let field = "\(param).image_url"
        guard let value = item["image_url"], !value.isNull else { throw .invalid("'\(field)' is required", param: field) }
        let url: String
        var resolution: JSONValue?
        if let plain = value.stringValue {
            url = plain
        } else if let object = value.objectValue {
            guard let text = object["url"]?.stringValue else {
                throw .invalid("'\(field).url' is required and must be a string", param: "\(field).url")
            }
            url = text
            resolution = try mediaResolution(object["detail"], param: "\(field).detail")
        } else {
            throw .invalid("'\(field)' must be an object with a 'url' or a URL string, got \(value.typeName)", param: field)
        }
        let urlParam = value.stringValue != nil ? field : "\(field).url"
        var part = try mediaPart(url: url, param: urlParam)
        if let resolution { part["mediaResolution"] = resolution }
        return .object(part)
    }

    /// OpenAI `detail` → Gemini 3's per-part `mediaResolution`. Per-part resolution is on
    /// v1beta for Gemini 3 and newer; older models ignore or refuse it, which is why `auto` (or
    /// no detail) sends nothing and leaves the model's default.
    private static func mediaResolution(_ detail: JSONValue?, param: String) throws(FlashgateError) -> JSONValue? {
        guard let detail, !detail.isNull else { return nil }
        switch detail.stringValue {
        case "low": return ["level": "MEDIA_RESOLUTION_LOW"]
        case "high": return ["level": "MEDIA_RESOLUTION_HIGH"]
        case "auto": return nil
        default: throw .invalid("'\(param)' must be one of low, high or auto", param: param)
        }
    }

    /// The part for a URL: inline for `data:`, a file reference for `gs://` and YouTube, a
    /// pending fetch for other http(s) URLs.
    private static func mediaPart(url: String, param: String) throws(FlashgateError) -> JSONObject {
        let lower = url.prefix(8).lowercased()
        if lower.hasPrefix("data:") {
            let (mimeType, data) = try DataURL.parse(url, param: param)
            return ["inlineData": ["mimeType": .string(mimeType), "data": .string(data)]]
        }
        if lower.hasPrefix("gs://") {
            guard url.count > 5 else { throw .invalid("'\(param)' is not a valid gs:// URL", param: param) }
            var fileData: JSONObject = ["fileUri": .string(url)]
            if let mimeType = MediaTypeGuess.fromPath(url) { fileData["mimeType"] = .string(mimeType) }
            return ["fileData": .object(fileData)]
        }
        if lower.hasPrefix("https://") || lower.hasPrefix("http://") {
            // Gemini fetches YouTube itself; the Developer API documents these without a mimeType.
            if YouTubeURL.matches(url) { return ["fileData": ["fileUri": .string(url)]] }
            return [ChatRequest.pendingMediaKey: ["url": .string(url), "param": .string(param)]]
        }
        throw .invalid("'\(param)' must be a data:, https://, gs:// or YouTube URL", param: param)
    }

    // MARK: input_audio

    /// OpenAI's audio formats that Gemini also reads; anything else is refused by name.
    static let audioFormats: [String: String] = [
        "wav": "audio/wav", "mp3": "audio/mp3", "flac": "audio/flac", "ogg": "audio/ogg", "aac": "audio/aac",
        "aiff": "audio/aiff",
    ]

    private static func inputAudio(_ item: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        let field = "\(param).input_audio"
        guard let audio = item["input_audio"]?.objectValue else {
            throw .invalid("'\(field)' is required and must be an object with 'data' and 'format'", param: field)
        }
        guard let format = audio["format"]?.stringValue else {
            throw .invalid("'\(field).format' is required and must be a string", param: "\(field).format")
        }
        guard let mimeType = audioFormats[format.lowercased()] else {
            let known = audioFormats.keys.sorted().joined(separator: ", ")
            throw .invalid("'\(field).format' '\(format)' is not supported; use one of \(known)", param: "\(field).format")
        }
        guard let data = audio["data"]?.stringValue else {
            throw .invalid("'\(field).data' is required and must be a base64 string", param: "\(field).data")
        }
        guard Base64.isValid(data) else {
            throw .invalid("'\(field).data' is not valid base64", param: "\(field).data")
        }
        return ["inlineData": ["mimeType": .string(mimeType), "data": .string(data)]]
    }

    // MARK: file

    private static func file(_ item: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        let field = "\(param).file"
        guard let file = item["file"]?.objectValue else {
            throw .invalid("'\(field)' is required and must be an object with 'file_data'", param: field)
        }
        if let id = file["file_id"], !id.isNull {
            throw .invalid(
                "'\(field).file_id' is not supported: Flashgate has no files API; send the file inline as file_data",
                param: "\(field).file_id")
        }
        guard let value = file["file_data"], !value.isNull else {
            throw .invalid("'\(field).file_data' is required", param: "\(field).file_data")
        }
        guard let data = value.stringValue else {
            throw .invalid("'\(field).file_data' must be a string, got \(value.typeName)", param: "\(field).file_data")
        }
        if data.prefix(5).lowercased() == "data:" {
            let (mimeType, payload) = try DataURL.parse(data, param: "\(field).file_data")
            return ["inlineData": ["mimeType": .string(mimeType), "data": .string(payload)]]
        }
        // Bare base64: the filename's extension must say what it is.
        guard let name = file["filename"]?.stringValue, let mimeType = MediaTypeGuess.fromPath(name) else {
            throw .invalid(
                "'\(field).file_data' must be a data URL (data:<mime>;base64,…) unless 'filename' has a known extension",
                param: "\(field).file_data")
        }
        guard Base64.isValid(data) else {
            throw .invalid("'\(field).file_data' is not valid base64", param: "\(field).file_data")
        }
        return ["inlineData": ["mimeType": .string(mimeType), "data": .string(data)]]
    }
}
