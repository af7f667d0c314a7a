import FlashgateCore

/// The mock model's `embedContent` and `batchEmbedContents`: deterministic, L2-normalised
/// vectors derived from a stable hash of the text, 8 dimensions unless `outputDimensionality`
/// asks for another size. Same text and size, same vector. Like Gemini's, the answers carry no
/// usage.
extension MockModel {
    package static let defaultEmbeddingDimensions = 8
    /// Gemini's embedding models stop at 3072 dimensions.
    package static let maxEmbeddingDimensions = 3072

    /// `{"embedding":{"values":[…]}}` for one `EmbedContentRequest`.
    package static func embedContent(request: JSONValue) throws(FlashgateError) -> JSONValue {
        ["embedding": try embedding(request)]
    }

    /// `{"embeddings":[{"values":[…]}, …]}`, one per request, in order. Each request's `model`,
    /// when present, must name the model in the URL, as Gemini requires.
    package static func batchEmbedContents(model: String, request: JSONValue) throws(FlashgateError) -> JSONValue {
        guard let requests = request["requests"]?.arrayValue, !requests.isEmpty else {
            throw badRequest("requests is not specified")
        }
        var embeddings: [JSONValue] = []
        for (index, item) in requests.enumerated() {
            if let named = item["model"]?.stringValue, named != "models/\(model)", named != model {
                throw badRequest("requests[\(index)].model '\(named)' does not match the model in the URL 'models/\(model)'")
            }
            embeddings.append(try embedding(item))
        }
        return ["embeddings": .array(embeddings)]
    }

    private static func embedding(_ request: JSONValue) throws(FlashgateError) -> JSONValue {
        guard let parts = request["content"]?["parts"]?.arrayValue else { throw badRequest("content is not specified") }
        let text = parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
        var dimensions = defaultEmbeddingDimensions
        if let value = request["outputDimensionality"] ?? request["output_dimensionality"], !value.isNull {
            guard let n = value.intValue, (1...maxEmbeddingDimensions).contains(n) else {
                throw badRequest("outputDimensionality must be between 1 and \(maxEmbeddingDimensions)")
            }
            dimensions = n
        }
        return ["values": .array(vector(text, dimensions: dimensions).map { .number(String($0)) })]
    }

    /// A splitmix64 sequence seeded by the text's hash, mapped to [-1, 1] and L2-normalised.
    static func vector(_ text: String, dimensions: Int) -> [Float] {
        var state = stableHash(text)
        var raw: [Double] = []
        raw.reserveCapacity(dimensions)
        for _ in 0..<dimensions {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            raw.append(Double(z >> 11) / Double(1 << 53) * 2 - 1)
        }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return raw.map { Float(norm > 0 ? $0 / norm : 0) }
    }

    private static func badRequest(_ message: String) -> FlashgateError {
        FlashgateError(.upstreamStatus, message, upstreamStatus: 400)
    }
}
