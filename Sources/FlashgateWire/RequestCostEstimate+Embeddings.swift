import FlashgateCore

/// What an embedding call can cost before it is sent. Embeddings are billed on input only, so the
/// estimate has no output and no search queries.
///
/// The body is either one `embedContent` request (`content`, `title`) or a `batchEmbedContents`
/// body (`requests`, each with its own `content` and `title`); the OpenAI path estimates the
/// Gemini body it sends. Each request's content is counted like a generation's input (see
/// `RequestCostEstimate`): in strict mode one token per UTF-8 byte (a token covers at least one
/// byte) plus 8 tokens per content and 4 per part for markers, media by the same per-part bounds;
/// the `title` one token per byte. Estimate mode takes four bytes a token.
extension RequestCostEstimate {
    package static func worstCase(embeddings body: JSONValue, model: String) -> RequestCostEstimate {
        embeddings(body: body, model: model, expected: false)
    }

    package static func expected(embeddings body: JSONValue, model: String) -> RequestCostEstimate {
        embeddings(body: body, model: model, expected: true)
    }

    private static func embeddings(body: JSONValue, model: String, expected: Bool) -> RequestCostEstimate {
        var counter = InputCounter(model: model, expected: expected)
        let requests = body["requests"]?.arrayValue ?? [body]
        for request in requests {
            if let content = request["content"] { counter.content(content) }
            if let title = request["title"] { counter.text(title) }
        }
        return RequestCostEstimate(
            inputTokens: counter.tokens, outputTokens: 0, searchQueries: 0, isUpperBound: counter.bounded,
            media: counter.media)
    }
}
