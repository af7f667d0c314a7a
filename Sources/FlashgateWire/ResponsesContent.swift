import FlashgateCore

/// The content of a Responses message → chat content parts, which `MessageTranslator` and
/// `ContentPartTranslator` turn into Gemini parts: `input_text`/`output_text` → text,
/// `input_image` → `image_url`, `input_audio` as is, `input_file` → `file` (inline data) or
/// `image_url` (a URL Flashgate fetches). Files by id are refused: Flashgate has no files API.
enum ResponsesContent {
    static func parts(_ value: JSONValue?, param: String) throws(FlashgateError) -> JSONValue {
        guard let value, !value.isNull else { throw .invalid("'\(param)' is required", param: param) }
        if value.stringValue != nil { return value }
        guard let items = value.arrayValue else {
            throw .invalid(
                "'\(param)' must be a string or an array of content parts, got \(value.typeName)", param: param)
        }
        var parts: [JSONValue] = []
        for (k, item) in items.enumerated() {
            let p = "\(param)[\(k)]"
            guard let type = item["type"]?.stringValue else {
                throw .invalid("'\(p).type' is required", param: "\(p).type")
            }
            switch type {
            case "input_text", "output_text", "text":
                guard let text = item["text"]?.stringValue else {
                    throw .invalid("'\(p).text' must be a string", param: "\(p).text")
                }
                parts.append(["type": "text", "text": .string(text)])
            case "refusal":
                parts.append(["type": "text", "text": item["refusal"] ?? ""])
            case "input_image":
                try refuseFileID(item, p)
                guard let url = item["image_url"]?.stringValue else {
                    throw .invalid("'\(p).image_url' is required and must be a string", param: "\(p).image_url")
                }
                var image: JSONObject = ["url": .string(url)]
                if let detail = item["detail"], !detail.isNull { image["detail"] = detail }
                parts.append(["type": "image_url", "image_url": .object(image)])
            case "input_audio":
                parts.append(["type": "input_audio", "input_audio": item["input_audio"] ?? .null])
            case "input_file":
                try refuseFileID(item, p)
                if let data = item["file_data"]?.stringValue {
                    var file: JSONObject = ["file_data": .string(data)]
                    if let name = item["filename"] { file["filename"] = name }
                    parts.append(["type": "file", "file": .object(file)])
                } else if let url = item["file_url"]?.stringValue {
                    parts.append(["type": "image_url", "image_url": ["url": .string(url)]])
                } else {
                    throw .invalid("'\(p)' needs 'file_data' or 'file_url'", param: p)
                }
            default:
                throw .invalid("content part type '\(type)' is not supported by Flashgate", param: "\(p).type")
            }
        }
        return .array(parts)
    }

    private static func refuseFileID(_ item: JSONValue, _ p: String) throws(FlashgateError) {
        if let id = item["file_id"], !id.isNull {
            throw .invalid(
                "'\(p).file_id' is not supported: Flashgate has no files API; send the data inline or by URL",
                param: "\(p).file_id")
        }
    }
}
