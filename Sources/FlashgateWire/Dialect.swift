/// Which API the client speaks: it decides the error envelope (`FlashgateError.openAIBody()` or
/// `googleBody()`). The server decides it once per request, from the path.
package enum Dialect: Sendable {
    case openAI
    case google
}

extension AnswerMode {
    /// The dialect of this mode's error envelope: OpenAI for chat completions and Responses,
    /// Google otherwise.
    package var dialect: Dialect {
        switch self {
        case .openAI, .responses: .openAI
        case .nativeJSON, .nativeSSE, .nativeArray: .google
        }
    }
}
