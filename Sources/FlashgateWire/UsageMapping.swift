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

    /// A whole Gemini answer's usage as it bills: `usageMetadata`'s counts and the web searches
    /// its candidates' grounding ran (`groundingMetadata.webSearchQueries`), which the usage
    /// metadata does not count. Nil when the answer has no usage metadata.
    package init?(answer: JSONValue) {
        self.init(usageMetadata: answer["usageMetadata"])
        searchQueries = Grounding.searchQueryCount(answer["candidates"]?.arrayValue ?? [])
    }

    package init?(usageMetadata value: JSONValue?) {
        guard let value, case .object = value else { return nil }
        promptTokens = Self.count(value["promptTokenCount"])
        candidatesTokens = Self.count(value["candidatesTokenCount"])
        thoughtsTokens = Self.count(value["thoughtsTokenCount"])
        cachedTokens = Self.count(value["cachedContentTokenCount"])
        toolUsePromptTokens = Self.count(value["toolUsePromptTokenCount"])
        totalTokens = Self.count(value["totalTokenCount"])
        if let details = value["promptTokensDetails"] {
            let cached = value["cacheTokensDetails"]
            func uncached(_ modality: String) -> Int {
                let tokens = Self.modalityTokens(details, modality)
                return tokens > 0 ? max(0, tokens - Self.modalityTokens(cached, modality)) : 0
            }
            promptMedia = MediaTokens(audio: uncached("AUDIO"), image: uncached("IMAGE"), video: uncached("VIDEO"))
        }
    }

    /// A count as an upstream reported it, within 0...`BillableUsage.maxTokens`: a broken
    /// upstream's negative or absurd count must neither credit money nor overflow a sum.
    static func count(_ value: JSONValue?) -> Int {
        guard case .number(let text)? = value else { return 0 }
        if let count = value?.intValue { return min(max(0, count), BillableUsage.maxTokens) }
        // Not a whole number: a fraction is rounded up; past what `Int` holds, positive ones are
        // the most a call can bill.
        if let fraction = Double(text), fraction.isFinite, fraction < Double(BillableUsage.maxTokens) {
            return fraction <= 0 ? 0 : Int(fraction.rounded(.up))
        }
        return text.hasPrefix("-") ? 0 : BillableUsage.maxTokens
    }

    /// The `tokenCount` of `modality` in a `…TokensDetails` list.
    static func modalityTokens(_ details: JSONValue?, _ modality: String) -> Int {
        guard case .array(let items)? = details else { return 0 }
        var sum = 0
        for item in items where item["modality"]?.stringValue == modality {
            sum = min(sum + count(item["tokenCount"]), BillableUsage.maxTokens)
        }
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
