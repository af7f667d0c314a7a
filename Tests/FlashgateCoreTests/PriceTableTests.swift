import Testing

@testable import FlashgateCore

@Suite struct PriceTableTests {
    let table = PriceTable()

    @Test func flashRowAsPublished() throws {
        // 1M input at $2.70 + 1M output at $16.20.
        let cost = try #require(table.cost(BillableUsage(promptTokens: 1_000_000, outputTokens: 1_000_000), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD(18_900_000))
        #expect(cost.dollars == "18.900000")
    }

    @Test func cachedTokensAtTheCachedRate() throws {
        // 1,000 prompt tokens of which 800 cached: 200 at $2.70/M plus 800 at $0.27/M.
        let cost = try #require(table.cost(BillableUsage(promptTokens: 1000, cachedTokens: 800), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD((200 * 2_700_000 + 800 * 270_000 + 999_999) / 1_000_000))
    }

    @Test func thinkingIsOutputAndRoundsUp() throws {
        let cost = try #require(table.cost(BillableUsage(promptTokens: 1, outputTokens: 1), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD(19))  // 2.7 + 16.2 = 18.9 µ$ → 19
    }

    @Test func longContextTier() throws {
        let short = try #require(table.cost(BillableUsage(promptTokens: 200_000), model: "gemini-2.5-pro"))
        let long = try #require(table.cost(BillableUsage(promptTokens: 200_001), model: "gemini-2.5-pro"))
        #expect(short == MicroUSD(250_000))
        #expect(long == MicroUSD((200_001 * 2_500_000 + 999_999) / 1_000_000))
    }

    @Test func groundingPerQuery() throws {
        let cost = try #require(table.cost(BillableUsage(searchQueries: 2), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD(28_000))  // $14 per 1,000 → $0.028 for two
    }

    @Test func longestPrefixWins() {
        #expect(table.price(for: "gemini-2.5-flash-lite-preview")?.inputPerMillion == 100_000)
        #expect(table.price(for: "models/gemini-2.5-flash-001")?.inputPerMillion == 300_000)
        #expect(table.price(for: "unknown-model") == nil)
    }

    @Test func dollarsFormatting() {
        #expect(MicroUSD(0).dollars == "0.000000")
        #expect(MicroUSD(1).dollars == "0.000001")
        #expect(MicroUSD(-1_500_000).dollars == "-1.500000")
    }
}
