import FlashgateCore

/// Maps Gemini's `finishReason` and block reasons to OpenAI's `finish_reason`. Safety and other
/// blocks become `content_filter` so clients do not retry a refusal as if it were a success.
package enum FinishReason {
    private static let filtered: Set<String> = [
        "SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT", "IMAGE_OTHER", "IMAGE_RECITATION", "NO_IMAGE", "ESCALATION", "MODEL_ARMOR",
        "OTHER", "JAILBREAK",
    ]

    /// Reasons Gemini gives when it failed to produce a tool call or its own answer; chat calls
    /// them `stop` (as other gateways do), the Responses API `failed`.
    package static let failedToolUse: Set<String> = [
        "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS", "MISSING_THOUGHT_SIGNATURE",
        "MALFORMED_RESPONSE",
    ]

    package static func openAI(_ gemini: String, hasToolCalls: Bool = false) -> String {
        if filtered.contains(gemini) { return "content_filter" }
        if gemini == "MAX_TOKENS" { return "length" }
        return hasToolCalls ? "tool_calls" : "stop"
    }
}
