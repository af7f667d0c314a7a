/// Which API the client speaks: it decides the error envelope (`FlashgateError.openAIBody()` or
/// `googleBody()`). The server decides it once per request, from the path.
package enum Dialect: Sendable {
    case openAI
    case google
}

extension AnswerMode {
    /// The dialect of this mode's error envelope: OpenAI for chat completions, Google otherwise.
    package var dialect: Dialect {
        if case .openAI = self { return .openAI }
        return .google
    }
}
