import FlashgateCore

/// Gemini `usageMetadata` read into counts, and rendered as OpenAI `usage`. Thinking tokens are
/// part of `completion_tokens` (they are billed as output), and also reported on their own.
package struct TokenUsage: Sendable, Equatable {
    package var promptTokens: Int = 0
    package var candidatesTokens: Int = 0
    package var thoughtsTokens: Int = 0
    package var cachedTokens: Int = 0
    package var toolUsePromptTokens: Int = 0
    package var totalTokens: Int = 0
    /// Google Search queries the answer ran (grounding is billed per query).
    package var searchQueries: Int = 0
    /// Uncached audio, image and video prompt tokens (`promptTokensDetails` of that modality
    /// less `cacheTokensDetails`'), which some models price above text.
    package var promptMedia = MediaTokens()

    package init() {}

    package init?(usageMetadata value: JSONValue?) {
        guard let value, case .object = value else { return nil }
        promptTokens = value["promptTokenCount"]?.intValue ?? 0
        candidatesTokens = value["candidatesTokenCount"]?.intValue ?? 0
        thoughtsTokens = value["thoughtsTokenCount"]?.intValue ?? 0
        cachedTokens = value["cachedContentTokenCount"]?.intValue ?? 0
        toolUsePromptTokens = value["toolUsePromptTokenCount"]?.intValue ?? 0
        totalTokens = value["totalTokenCount"]?.intValue ?? 0
        if let details = value["promptTokensDetails"] {
            let cached = value["cacheTokensDetails"]
            func uncached(_ modality: String) -> Int {
                let tokens = Self.modalityTokens(details, modality)
                return tokens > 0 ? max(0, tokens - Self.modalityTokens(cached, modality)) : 0
            }
            promptMedia = MediaTokens(audio: uncached("AUDIO"), image: uncached("IMAGE"), video: uncached("VIDEO"))
        }
    }

    /// The `tokenCount` of `modality` in a `…TokensDetails` list.
    static func modalityTokens(_ details: JSONValue?, _ modality: String) -> Int {
        guard case .array(let items)? = details else { return 0 }
        var sum = 0
        for item in items where item["modality"]?.stringValue == modality { sum += max(0, item["tokenCount"]?.intValue ?? 0) }
        return sum
    }

    /// Output tokens including thinking. Older responses counted thoughts inside
    /// `candidatesTokenCount`; that shows as prompt + candidates == total.
    package var completionTokens: Int {
        if thoughtsTokens > 0 && totalTokens > 0 && promptTokens + toolUsePromptTokens + candidatesTokens == totalTokens {
            return candidatesTokens
        }
        return candidatesTokens + thoughtsTokens
    }

    /// OpenAI `usage`, written in place; `cost` (dollars) last when given.
    package func writeOpenAI(to writer: inout JSONWriter, cost: MicroUSD?) {
        let prompt = promptTokens + toolUsePromptTokens
        let total = totalTokens > 0 ? totalTokens : prompt + completionTokens
        writer.append(#"{"prompt_tokens":"#)
        writer.appendInteger(prompt)
        writer.append(#","completion_tokens":"#)
        writer.appendInteger(completionTokens)
        writer.append(#","total_tokens":"#)
        writer.appendInteger(total)
        writer.append(#","prompt_tokens_details":{"cached_tokens":"#)
        writer.appendInteger(cachedTokens)
        writer.append(#"},"completion_tokens_details":{"reasoning_tokens":"#)
        writer.appendInteger(thoughtsTokens)
        writer.append("}")
        if let cost {
            writer.append(#","cost":"#)
            writer.appendFixed(cost.value, decimals: 6)
        }
        writer.append("}")
    }
}
