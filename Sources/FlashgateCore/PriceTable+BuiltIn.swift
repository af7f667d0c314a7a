extension PriceTable {
    /// 2027-01-01T00:00:00Z, when the 3.6 and 3.8 Flash launch prices end.
    static let promoEndMs: Int64 = 1_798_761_600_000

    /// Google's published prices, USD per million tokens written as micro-dollars per million
    /// (1.50 → 1_500_000). Each row names its source and the date it was read; "UNVERIFIED"
    /// marks a figure no stored copy of Google's own page confirmed, and how it was chosen.
    /// Tiers without a row derive from the standard row (`ModelPrice.derived(for:)`).
    package static let builtIn: [PriceRow] = [
        // Gemini 3.5 Flash, GA 2026-05-19: 1.50 / 9.00 / 0.15, storage 1.00 (pydantic/genai-prices#379;
        // api-evangelist/gemini plans; read 2026-10-07). Batch 0.75 / 4.50 (apidog 3.5 Flash pricing).
        PriceRow("gemini-3.5-flash", ModelPrice(input: 1_500_000, output: 9_000_000, cachedInput: 150_000)),
        // Priority 2.70 / 16.20 / 0.27 = 1.8 × standard (reseller page OpenOctopus; Google's own row UNVERIFIED).
        PriceRow(
            "gemini-3.5-flash", .priority, ModelPrice(input: 2_700_000, output: 16_200_000, cachedInput: 270_000)),
        // 3.5 Flash-Lite: 0.30 / 2.50 (api-evangelist/deepmind, 2026-10-07); cached UNVERIFIED: 10 % of
        // input as on every verified 3.x row. Flex cached 0.02 is Gemini API's own row, not 0.5×
        // (BerriAI/litellm PR #38422).
        PriceRow("gemini-3.5-flash-lite", ModelPrice(input: 300_000, output: 2_500_000, cachedInput: 30_000)),
        PriceRow("gemini-3.5-flash-lite", .flex, ModelPrice(input: 150_000, output: 1_250_000, cachedInput: 20_000)),
        // 3.6 Flash: 0.75 / 3.75 / 0.075 until 2026-12-31, 1.50 / 7.50 / 0.15 from 2027-01-01
        // (theopenco/llmgateway#3593, 2026-08-13).
        PriceRow("gemini-3.6-flash", ModelPrice(input: 750_000, output: 3_750_000, cachedInput: 75_000)),
        PriceRow(
            "gemini-3.6-flash", from: promoEndMs, ModelPrice(input: 1_500_000, output: 7_500_000, cachedInput: 150_000)),
        // 3.8 Flash: same launch dates and prices (api-evangelist/gemini, 2026-10-07); cached UNVERIFIED (10 %).
        PriceRow("gemini-3.8-flash", ModelPrice(input: 750_000, output: 3_750_000, cachedInput: 75_000)),
        PriceRow(
            "gemini-3.8-flash", from: promoEndMs, ModelPrice(input: 1_500_000, output: 7_500_000, cachedInput: 150_000)),
        // 3.1 Pro (preview and GA ids): 2.00 / 12.00 / 0.20 up to 200k prompt tokens, 4.00 / 18.00 /
        // 0.40 above; storage 4.50 (UNVERIFIED for 3.1, 2.5 Pro's). laozhang.ai; api-evangelist/deepmind.
        PriceRow(
            "gemini-3.1-pro",
            ModelPrice(
                input: 2_000_000, output: 12_000_000, cachedInput: 200_000, cacheStorage: 4_500_000,
                longContextThreshold: 200_000, longInput: 4_000_000, longOutput: 18_000_000, longCachedInput: 400_000)),
        // 3 Pro preview: the 3.1 Pro prices it launched with (UNVERIFIED since 3.1 replaced it).
        PriceRow(
            "gemini-3-pro",
            ModelPrice(
                input: 2_000_000, output: 12_000_000, cachedInput: 200_000, cacheStorage: 4_500_000,
                longContextThreshold: 200_000, longInput: 4_000_000, longOutput: 18_000_000, longCachedInput: 400_000)),
        // 3 Flash preview: 0.50 / 3.00 / 0.05 (factquire.com quoting ai.google.dev, 2026-07-04).
        // Audio input 1.00 (factquire.com quoting ai.google.dev, 2026-07-04).
        PriceRow("gemini-3-flash", ModelPrice(input: 500_000, output: 3_000_000, cachedInput: 50_000, audioInput: 1_000_000)),
        // 3.1 Flash-Lite: 0.25 / 1.50 (awslabs/startups#43, 2026-05-31); cached UNVERIFIED (10 %).
        PriceRow("gemini-3.1-flash-lite", ModelPrice(input: 250_000, output: 1_500_000, cachedInput: 25_000)),
        // 2.5 family (Portkey-AI/models#638, api-evangelist/gemini, 2026-09-20); grounding $35 / 1,000 prompts.
        PriceRow(
            "gemini-2.5-pro",
            ModelPrice(
                input: 1_250_000, output: 10_000_000, cachedInput: 125_000, cacheStorage: 4_500_000, search: 35_000_000,
                longContextThreshold: 200_000, longInput: 2_500_000, longOutput: 15_000_000, longCachedInput: 250_000,
                searchPerPrompt: true)),
        // Audio input 1.00 and 0.30 (Portkey-AI/models#638, hivebook; 2026-09-20).
        PriceRow(
            "gemini-2.5-flash",
            ModelPrice(
                input: 300_000, output: 2_500_000, cachedInput: 30_000, search: 35_000_000, audioInput: 1_000_000,
                searchPerPrompt: true)),
        PriceRow(
            "gemini-2.5-flash-lite",
            ModelPrice(
                input: 100_000, output: 400_000, cachedInput: 10_000, search: 35_000_000, audioInput: 300_000,
                searchPerPrompt: true)),
        // Embeddings, input only: gemini-embedding-001 0.15 (batch 0.075 = 0.5×; tokenmix.ai, 2026-04-25);
        // gemini-embedding-2 text 0.20, image 0.45, audio 6.50, video 12.00 (tokencost.app; api-evangelist/deepmind,
        // 2026-10-07).
        PriceRow("gemini-embedding-001", ModelPrice(input: 150_000, output: 0, cachedInput: 150_000, search: 0)),
        PriceRow(
            "gemini-embedding-2",
            ModelPrice(
                input: 200_000, output: 0, cachedInput: 200_000, search: 0, audioInput: 6_500_000, imageInput: 450_000,
                videoInput: 12_000_000)),
        // Flashgate's offline `mock` model answers locally: it costs nothing, explicitly.
        PriceRow("mock", ModelPrice(input: 0, output: 0, cachedInput: 0, cacheStorage: 0, search: 0)),
    ]
}
