import FlashgateCore

extension TokenUsage {
    /// The counts that cost money: thinking is billed as output.
    package var billable: BillableUsage {
        BillableUsage(
            promptTokens: promptTokens + toolUsePromptTokens, cachedTokens: cachedTokens,
            outputTokens: completionTokens,
            searchQueries: searchQueries, media: promptMedia)
    }
}
