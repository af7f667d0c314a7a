import FlashgateWire

extension AnswerMode {
    /// The dialect of this mode's error envelope: OpenAI for chat completions, Google otherwise.
    var dialect: Dialect {
        if case .openAI = self { return .openAI }
        return .google
    }
}
