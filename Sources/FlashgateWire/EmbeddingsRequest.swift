import FlashgateCore

/// An OpenAI `POST /v1/embeddings` request after validation: the texts to embed and how the
/// answer is to be rendered. Every input becomes one request of a Gemini `batchEmbedContents`
/// call, in order, so `data[i].index` is the position of the input.
package struct EmbeddingsRequest: Sendable, Equatable {
    /// How the vectors are written back: OpenAI's `encoding_format`.
    package enum Encoding: String, Sendable {
        /// A JSON array of numbers, with the upstream's literal number text.
        case float
        /// The little-endian float32 bytes of the vector, base64-encoded.
        case base64
    }

    /// The model id as the client named it; the answer carries it back unchanged.
    package var model: String
    /// The texts to embed, never empty, none of them empty.
    package var inputs: [String]
    /// OpenAI `dimensions` → Gemini `outputDimensionality`.
    package var dimensions: Int?
    package var encoding: Encoding

    package init(model: String, inputs: [String], dimensions: Int? = nil, encoding: Encoding = .float) {
        self.model = model
        self.inputs = inputs
        self.dimensions = dimensions
        self.encoding = encoding
    }
}

extension EmbeddingsRequest {
    /// OpenAI allows at most this many inputs in one request.
    package static let maxInputs = 2048

    /// Parses and validates an OpenAI embeddings body. `user` and any other OpenAI-only field
    /// are accepted and dropped, never forwarded.
    package static func translate(_ body: JSONValue) throws(FlashgateError) -> EmbeddingsRequest {
        guard let object = body.objectValue else { throw .invalid("the request body must be a JSON object") }
        var reader = FieldReader(object)

        guard let modelValue = reader.take("model") else { throw .invalid("'model' is required", param: "model") }
        guard let model = modelValue.stringValue, !model.isEmpty else {
            throw .invalid("'model' must be a non-empty string", param: "model")
        }
        guard let input = reader.take("input"), !input.isNull else {
            throw .invalid("'input' is required", param: "input")
        }
        let inputs = try texts(input)
        let dimensions = try reader.integer("dimensions", min: 1)

        var encoding = Encoding.float
        if let format = reader.take("encoding_format"), !format.isNull {
            guard let name = format.stringValue, let value = Encoding(rawValue: name) else {
                throw .invalid("'encoding_format' must be \"float\" or \"base64\"", param: "encoding_format")
            }
            encoding = value
        }
        return EmbeddingsRequest(model: model, inputs: inputs, dimensions: dimensions, encoding: encoding)
    }

    /// The Gemini `batchEmbedContents` body; each request names the upstream model, as Gemini
    /// requires it to match the model in the URL.
    package func gemini(upstreamModel: String) -> JSONObject {
        let requests: [JSONValue] = inputs.map { text in
            var request: JSONObject = [
                "model": .string("models/\(upstreamModel)"), "content": ["parts": [["text": .string(text)]]],
            ]
            if let dimensions { request["outputDimensionality"] = JSONValue(dimensions) }
            return .object(request)
        }
        return ["requests": .array(requests)]
    }

    private static func texts(_ input: JSONValue) throws(FlashgateError) -> [String] {
        if let text = input.stringValue {
            guard !text.isEmpty else { throw .invalid("'input' must not be an empty string", param: "input") }
            return [text]
        }
        guard let items = input.arrayValue else {
            throw .invalid("'input' must be a string or an array of strings, got \(input.typeName)", param: "input")
        }
        guard !items.isEmpty else { throw .invalid("'input' must not be an empty array", param: "input") }
        guard items.count <= maxInputs else {
            throw .invalid("'input' takes at most \(maxInputs) items, got \(items.count)", param: "input")
        }
        var texts: [String] = []
        texts.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            switch item {
            case .string(let text):
                guard !text.isEmpty else {
                    throw .invalid("'input[\(index)]' must not be an empty string", param: "input")
                }
                texts.append(text)
            case .number, .array:
                throw .invalid(
                    "'input' as token ids is not supported; send the text as a string or an array of strings",
                    param: "input")
            default:
                throw .invalid("'input' must contain only strings, got \(item.typeName) at \(index)", param: "input")
            }
        }
        return texts
    }
}
