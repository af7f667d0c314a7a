import Testing

@testable import FlashgateCore

@Suite struct PriceTableTests {
    let table = PriceTable()

    @Test func flashRowIsGooglesStandardPriceNotPriority() throws {
        // Google's standard price for 3.5 Flash: 1M input at $1.50 + 1M output at $9.00. The row
        // used to be the priority tier's $2.70 / $16.20, an 80 % overcharge on every call.
        let cost = try #require(table.cost(BillableUsage(promptTokens: 1_000_000, outputTokens: 1_000_000), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD(10_500_000))
        let row = try #require(table.price(for: "gemini-3.5-flash"))
        #expect(row.cachedInputPerMillion == 150_000 && row.cacheStoragePerMillionHour == 1_000_000)
    }

    /// A model with another output modality is not its text model: Google bills an image
    /// model's or a speech model's output many times text, so `gemini-2.5-flash-image` has no
    /// price until a row names it (no price, no call). Before, it was billed as 2.5 Flash text.
    @Test func anotherModalityIsNotItsTextModel() throws {
        for model in [
            "gemini-2.5-flash-image", "gemini-2.5-flash-image-preview", "gemini-2.5-flash-preview-tts",
            "gemini-2.5-flash-native-audio-preview-09-2025", "gemini-2.5-flash-live-001", "models/gemini-3-pro-image-preview",
        ] {
            #expect(table.price(for: model) == nil, "\(model)")
        }
        for model in ["gemini-2.5-flash", "gemini-2.5-flash-preview-09-2025", "gemini-3.5-flash-lite", "gemini-3-pro-preview"] {
            #expect(table.price(for: model) != nil, "\(model)")
        }
        // A row of its own, or the fallback row, prices it.
        var own = PriceTable()
        own.set(ModelPrice(input: 300_000, output: 30_000_000, cachedInput: 30_000), prefix: "gemini-2.5-flash-image")
        #expect(own.price(for: "gemini-2.5-flash-image-preview")?.outputPerMillion == 30_000_000)
        var fallback = PriceTable()
        fallback.set(ModelPrice(input: 5_000_000, output: 20_000_000, cachedInput: 500_000), prefix: PriceTable.fallbackPrefix)
        #expect(fallback.price(for: "gemini-2.5-flash-preview-tts")?.outputPerMillion == 20_000_000)
    }

    /// Gemini 2.5 bills grounding per grounded prompt ($35 / 1,000), Gemini 3 per search query
    /// ($14 / 1,000). Before, a 2.5 answer that ran three queries was charged three prompts.
    /// An id's prefix is remembered once matched; a table given a new row matches again, and a
    /// copy taken before keeps its own answer.
    @Test func rememberedMatchesFollowTheRows() throws {
        var table = PriceTable()
        let id = "gemini-2.5-flash-preview-09-2025"
        #expect(table.prefix(for: id) == "gemini-2.5-flash")
        #expect(table.prefix(for: id) == "gemini-2.5-flash")
        #expect(table.prefix(for: "no-such-model") == nil)
        #expect(table.prefix(for: "no-such-model") == nil)
        let before = table
        table.set(ModelPrice(input: 1, output: 2, cachedInput: 1), prefix: "gemini-2.5-flash-preview")
        #expect(table.prefix(for: id) == "gemini-2.5-flash-preview")
        #expect(before.prefix(for: id) == "gemini-2.5-flash")
        table.set(ModelPrice(input: 1, output: 2, cachedInput: 1), prefix: PriceTable.fallbackPrefix)
        #expect(table.prefix(for: "no-such-model") == PriceTable.fallbackPrefix)
        #expect(before.prefix(for: "no-such-model") == nil)
        #expect(table != before)
    }

    /// One table asked again and again (its memo warm) answers every id as a table asked once:
    /// 5,000 seeded ids built from every built-in prefix, cut short or extended by versions,
    /// other modalities and `models/`, with rows added halfway.
    @Test func rememberedMatchesAreTheScansAnswers() {
        var random = SeededRandom(seed: 7_031)
        let prefixes = PriceTable().prefixes.filter { $0 != PriceTable.fallbackPrefix }
        let tails = ["", "-001", "-preview", "-preview-09-2025", "-latest", "-image", "-tts", "-native-audio-dialog", "-lite", "-exp", "x"]
        var warm = PriceTable()
        var rows = PriceTable.builtIn
        for step in 0..<5_000 {
            if step == 2_500 {
                // Rows change: a longer prefix and a fallback, in both tables' histories.
                let added = [
                    PriceRow("gemini-2.5-flash-preview", ModelPrice(input: 1, output: 2, cachedInput: 1)),
                    PriceRow(PriceTable.fallbackPrefix, ModelPrice(input: 3, output: 4, cachedInput: 1)),
                ]
                for row in added { warm.add(row) }
                rows += added
            }
            var id = prefixes.randomElement(using: &random)!
            if Bool.random(using: &random) { id = String(id.dropLast(Int.random(in: 0...3, using: &random))) }
            id += tails.randomElement(using: &random)!
            if Int.random(in: 0..<4, using: &random) == 0 { id = "models/" + id }
            let fresh = PriceTable(rows: rows)
            #expect(warm.prefix(for: id) == fresh.prefix(for: id), "step \(step): \(id)")
            #expect(warm.price(for: id) == fresh.price(for: id), "step \(step): \(id)")
        }
    }

    /// Money never traps: sums saturate at `MicroUSD.max` (and the least value), a cost reads
    /// each count within 0...`BillableUsage.maxTokens` and is taken in 128 bits, and a forecast's
    /// `Double` becomes micro-dollars without trapping on infinities or NaN.
    @Test func moneyArithmeticSaturatesInsteadOfTrapping() throws {
        #expect(MicroUSD.max + MicroUSD(1) == .max)
        #expect(MicroUSD(.min) - MicroUSD(1) == MicroUSD(.min))
        #expect(MicroUSD(5) - MicroUSD(.min) == .max)
        var sum = MicroUSD(.max - 1)
        sum += MicroUSD(10)
        #expect(sum == .max)
        #expect(MicroUSD(2) + MicroUSD(3) == MicroUSD(5) && MicroUSD(2) - MicroUSD(3) == MicroUSD(-1))

        let price = try #require(table.price(for: "gemini-3.5-flash"))
        let absurd = BillableUsage(promptTokens: .max, cachedTokens: .min, outputTokens: .max, searchQueries: .max)
        let capped = BillableUsage(
            promptTokens: BillableUsage.maxTokens, outputTokens: BillableUsage.maxTokens, searchQueries: BillableUsage.maxTokens)
        #expect(price.cost(absurd) == price.cost(capped))
        #expect(price.cost(capped) > MicroUSD(40_000_000_000))  // ~ $45,000 at $1.50 / $9 a million
        #expect(price.cost(BillableUsage(promptTokens: -10, outputTokens: -10, searchQueries: -1)) == .zero)
        var dear = price
        dear.outputPerMillion = .max
        #expect(dear.cost(capped) == .max)

        #expect(MicroUSD(rounding: .infinity, .up) == .max)
        #expect(MicroUSD(rounding: -.infinity, .up) == MicroUSD(.min))
        #expect(MicroUSD(rounding: .nan, .up) == .zero)
        #expect(MicroUSD(rounding: 1.2, .up) == MicroUSD(2) && MicroUSD(rounding: 1.8, .down) == MicroUSD(1))
    }

    @Test func groundingIsBilledPerPromptOn25AndPerQueryOn3() throws {
        let three = BillableUsage(searchQueries: 3)
        #expect(table.cost(three, model: "gemini-2.5-flash") == MicroUSD(35_000))
        #expect(table.cost(three, model: "gemini-2.5-pro") == MicroUSD(35_000))
        #expect(table.cost(BillableUsage(searchQueries: 0), model: "gemini-2.5-flash") == MicroUSD(0))
        #expect(table.cost(three, model: "gemini-3.5-flash") == MicroUSD(42_000))
        // A tier's row keeps the unit.
        #expect(table.cost(three, model: "gemini-2.5-flash", tier: .flex) == MicroUSD(35_000))
    }

    @Test func cachedTokensAtTheCachedRate() throws {
        // 1,000 prompt tokens of which 800 cached: 200 at $1.50/M plus 800 at $0.15/M.
        let cost = try #require(table.cost(BillableUsage(promptTokens: 1000, cachedTokens: 800), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD((200 * 1_500_000 + 800 * 150_000 + 999_999) / 1_000_000))
    }

    @Test func thinkingIsOutputAndRoundsUp() throws {
        let cost = try #require(table.cost(BillableUsage(promptTokens: 1, outputTokens: 1), model: "gemini-3.5-flash"))
        #expect(cost == MicroUSD(11))  // 1.5 + 9.0 = 10.5 µ$ → 11
    }

    @Test func everyTierHasItsPrice() throws {
        let usage = BillableUsage(promptTokens: 1_000_000, cachedTokens: 500_000, outputTokens: 1_000_000)
        // Standard: 0.5M × 1.50 + 0.5M × 0.15 + 1M × 9.00.
        #expect(table.cost(usage, model: "gemini-3.5-flash", tier: .standard) == MicroUSD(750_000 + 75_000 + 9_000_000))
        // Priority has its own row: 2.70 / 16.20 / 0.27.
        #expect(table.cost(usage, model: "gemini-3.5-flash", tier: .priority) == MicroUSD(1_350_000 + 135_000 + 16_200_000))
        // Flex is half of everything; batch is half except cached input, billed at the normal cached price.
        #expect(table.cost(usage, model: "gemini-3.5-flash", tier: .flex) == MicroUSD(375_000 + 37_500 + 4_500_000))
        #expect(table.cost(usage, model: "gemini-3.5-flash", tier: .batch) == MicroUSD(375_000 + 75_000 + 4_500_000))
        // A tier row that is not a multiple: 3.5 Flash-Lite flex caching is $0.02, not 0.5 × $0.03.
        #expect(table.price(for: "gemini-3.5-flash-lite", tier: .flex)?.cachedInputPerMillion == 20_000)
        // Priority derived at 1.8× where no row exists (2.5 Flash-Lite: $0.18 input, as published).
        #expect(table.price(for: "gemini-2.5-flash-lite", tier: .priority)?.inputPerMillion == 180_000)
        // Storage and grounding do not depend on the tier.
        #expect(table.price(for: "gemini-2.5-pro", tier: .flex)?.cacheStoragePerMillionHour == 4_500_000)
        #expect(table.price(for: "gemini-2.5-pro", tier: .flex)?.searchPerThousand == 35_000_000)
    }

    @Test func datedRowsApplyFromTheirDate() {
        let lastPromoDay: Int64 = 1_798_761_599_999  // 2026-12-31T23:59:59.999Z
        #expect(table.price(for: "gemini-3.6-flash", atMs: lastPromoDay)?.inputPerMillion == 750_000)
        #expect(table.price(for: "gemini-3.6-flash", atMs: lastPromoDay + 1)?.inputPerMillion == 1_500_000)
        #expect(table.price(for: "gemini-3.8-flash", atMs: 0)?.outputPerMillion == 3_750_000)
        // Without a time, the latest row: never the promotional one by accident.
        #expect(table.price(for: "gemini-3.6-flash")?.inputPerMillion == 1_500_000)
    }

    @Test func unpricedModelsHaveNoPriceUnlessAFallbackRowExists() {
        for model in ["gemini-3.5-pro", "gemini-2.0-flash", "gemini-9", "models/unknown"] {
            #expect(table.price(for: model) == nil)
            #expect(table.cost(BillableUsage(promptTokens: 10), model: model) == nil)
        }
        var withFallback = table
        withFallback.set(ModelPrice(input: 5_000_000, output: 20_000_000, cachedInput: 500_000), prefix: PriceTable.fallbackPrefix)
        #expect(withFallback.price(for: "gemini-9")?.inputPerMillion == 5_000_000)
        #expect(withFallback.price(for: "gemini-9", tier: .flex)?.inputPerMillion == 2_500_000)
        // Known models keep their own rows.
        #expect(withFallback.price(for: "gemini-3.5-flash")?.inputPerMillion == 1_500_000)
    }

    @Test func longContextTier() throws {
        let short = try #require(table.cost(BillableUsage(promptTokens: 200_000), model: "gemini-2.5-pro"))
        let long = try #require(table.cost(BillableUsage(promptTokens: 200_001), model: "gemini-2.5-pro"))
        #expect(short == MicroUSD(250_000))
        #expect(long == MicroUSD((200_001 * 2_500_000 + 999_999) / 1_000_000))
    }

    @Test func groundingPerQuery() throws {
        // $14 per 1,000 search requests on 3.x models, whatever the tier.
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
