/// How an upstream's answer is framed, so one reader turns any of them into Gemini events.
package enum AnswerFraming: Sendable, Equatable {
    case geminiSSE
    case geminiJSON
    case openAISSE
    case openAIJSON
}
