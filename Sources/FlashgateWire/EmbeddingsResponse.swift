import FlashgateCore

/// Renders a Gemini `batchEmbedContents` answer as an OpenAI embeddings list. The float form
/// keeps the upstream's literal number text (never re-formatted through `Double`); the base64
/// form is the vector's little-endian float32 bytes, which is what the openai SDKs decode.
package enum EmbeddingsResponse {
    /// `promptTokens` is what the call was charged for, when the gateway metered it; without it
    /// the count is the upstream's or an estimate.
    package static func render(
        _ response: JSONValue, request: EmbeddingsRequest, promptTokens charged: Int? = nil
    ) throws(FlashgateError) -> JSONValue {
        guard let embeddings = response["embeddings"]?.arrayValue, embeddings.count == request.inputs.count else {
            throw FlashgateError(
                .upstreamProtocol,
                "the upstream answered with \(response["embeddings"]?.arrayValue?.count ?? 0) embeddings for "
                    + "\(request.inputs.count) inputs")
        }
        var data: [JSONValue] = []
        data.reserveCapacity(embeddings.count)
        for (index, embedding) in embeddings.enumerated() {
            guard let values = embedding["values"]?.arrayValue else {
                throw FlashgateError(.upstreamProtocol, "the upstream's embedding \(index) has no values")
            }
            let vector: JSONValue
            switch request.encoding {
            case .float:
                guard values.allSatisfy({ if case .number = $0 { true } else { false } }) else {
                    throw FlashgateError(.upstreamProtocol, "the upstream's embedding \(index) has a non-number value")
                }
                vector = .array(values)
            case .base64:
                vector = .string(try base64Float32(values, index: index))
            }
            data.append(["object": "embedding", "index": JSONValue(index), "embedding": vector])
        }
        let tokens = charged ?? promptTokens(response, inputs: request.inputs)
        return [
            "object": "list", "data": .array(data), "model": .string(request.model),
            "usage": ["prompt_tokens": JSONValue(tokens), "total_tokens": JSONValue(tokens)],
        ]
    }

    /// Gemini's `usageMetadata.promptTokenCount` when the answer carries it. Embedding answers
    /// often carry no usage at all; then the count is an estimate of ceil(UTF-8 bytes / 4) per
    /// input, summed, which is Gemini's own rule of thumb (about 4 characters per token) and
    /// never zero for non-empty input.
    static func promptTokens(_ response: JSONValue, inputs: [String]) -> Int {
        if let count = response["usageMetadata"]?["promptTokenCount"]?.intValue { return count }
        return inputs.reduce(0) { $0 + ($1.utf8.count + 3) / 4 }
    }

    private static func base64Float32(_ values: [JSONValue], index: Int) throws(FlashgateError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            guard case .number(let text) = value, let float = Float(text) else {
                throw FlashgateError(.upstreamProtocol, "the upstream's embedding \(index) has a non-number value")
            }
            let bits = float.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return base64(bytes)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding (RFC 4648 §4).
    static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
            out.append(rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
