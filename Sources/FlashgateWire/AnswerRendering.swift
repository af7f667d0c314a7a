import FlashgateCore

/// Renders a sequence of Gemini response events in one client's mode. The same code serves a
/// live upstream answer, a coalesced one and a cache hit, so every path says the same thing.
package struct AnswerRendering {
    package let mode: AnswerMode
    private var translator: ChatStreamTranslator?
    private var responses: ResponsesStreamTranslator?
    private var assembler = GeminiAnswerAssembler()
    private var events = 0
    /// Thought signatures returned with tool calls, for the signature store.
    package private(set) var signatures: [(toolCallID: String, signature: String)] = []
    /// A Responses answer once finished: the response and the items to store.
    package private(set) var responsesOutcome: ResponsesOutcome?

    package init(_ mode: AnswerMode) {
        self.mode = mode
        if case .openAI(let chat, let id, let created) = mode, chat.stream {
            translator = ChatStreamTranslator(model: chat.model, id: id, created: created, includeUsage: chat.includeUsage)
        }
        if case .responses(let answer) = mode { responses = ResponsesStreamTranslator(answer) }
    }

    package var contentType: String { mode.isStreaming && !isNativeArray ? "text/event-stream" : "application/json" }

    private var isNativeArray: Bool {
        if case .nativeArray = mode { return true }
        return false
    }

    /// The bytes for one event (nothing for modes that answer once at the end).
    package mutating func render(_ event: JSONValue) -> [UInt8] {
        assembler.add(event)
        events += 1
        switch mode {
        case .openAI:
            return translator?.translate(event: event) ?? []
        case .responses:
            return responses?.translate(event: event) ?? []
        case .nativeJSON:
            return []
        case .nativeSSE:
            return SSEEncoder.frame(event)
        case .nativeArray:
            return Array((events == 1 ? "[" : ",\r\n").utf8) + JSONWriter.encode(event)
        }
    }

    /// The closing bytes: the whole body for JSON modes, the end of the stream otherwise. OpenAI
    /// answers carry what this client paid as `usage.cost` (dollars).
    /// `tier` is the service tier that served (OpenAI's `service_tier`, non-stream answers).
    package mutating func finish(cost: MicroUSD = .zero, tier: ServiceTier? = nil) -> [UInt8] {
        switch mode {
        case .openAI(let chat, let id, let created):
            if let translator {
                signatures = translator.signatures
                return translator.finish(cost: cost)
            }
            let rendered = ChatResponse.render(
                assembler.readable, model: chat.model, id: id, created: created, cost: cost, tier: tier)
            signatures = rendered.signatures
            return rendered.bytes
        case .responses:
            guard var translator = responses else { return [] }
            let (bytes, outcome) = translator.finish(cost: cost, tier: tier)
            responses = translator
            signatures = translator.signatures
            responsesOutcome = outcome
            return bytes
        case .nativeJSON:
            return JSONWriter.encode(assembler.response)
        case .nativeSSE:
            return []
        case .nativeArray:
            return Array((events == 0 ? "[]" : "]").utf8)
        }
    }

    /// The closing bytes of a stream the upstream broke after it started: a Responses
    /// `response.failed` event, a chat error event; nothing for native forms (the connection is
    /// cut instead).
    package mutating func failure(_ error: FlashgateError) -> [UInt8] {
        switch mode {
        case .openAI: return ChatStreamTranslator.errorFrame(error)
        case .responses:
            guard var translator = responses else { return [] }
            defer { responses = translator }
            return translator.failure(error)
        case .nativeJSON, .nativeSSE, .nativeArray: return []
        }
    }

    /// The complete answer so far, for usage and cost.
    package var answer: GeminiAnswerAssembler { assembler }
}
