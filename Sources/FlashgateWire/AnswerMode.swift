import FlashgateCore

/// How a client asked for a generation: which dialect and whether streamed. Decided once from the
/// endpoint and body; `AnswerRendering` needs nothing else to answer in the client's form.
package enum AnswerMode: Sendable {
    /// OpenAI chat completions; `chat.stream` decides JSON or SSE.
    case openAI(ChatRequest, id: String, created: Int)
    /// OpenAI Responses (`/v1/responses`); `answer.stream` decides JSON or SSE.
    case responses(ResponsesAnswer)
    case nativeJSON
    case nativeSSE
    /// `streamGenerateContent` without `alt=sse`: one JSON array, written as it grows.
    case nativeArray

    package var isStreaming: Bool {
        switch self {
        case .openAI(let chat, _, _): chat.stream
        case .responses(let answer): answer.stream
        case .nativeJSON: false
        case .nativeSSE, .nativeArray: true
        }
    }
}
