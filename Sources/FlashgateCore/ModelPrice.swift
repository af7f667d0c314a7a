/// What one model costs at one tier, in micro-dollars per million tokens (so prices with cents
/// per million stay integers), with an optional long-context band above a prompt-size threshold.
package struct ModelPrice: Sendable, Equatable {
    package var inputPerMillion: Int64
    package var outputPerMillion: Int64
    package var cachedInputPerMillion: Int64
    /// Context-cache storage, per million tokens per hour.
    package var cacheStoragePerMillionHour: Int64
    /// Grounding with Google Search, per 1,000 queries (per 1,000 grounded prompts when
    /// `searchPerPrompt`).
    package var searchPerThousand: Int64
    /// Grounding billed once per grounded prompt however many queries it ran (Gemini 2.5),
    /// rather than per query (Gemini 3 and later).
    package var searchPerPrompt = false
    /// Above this many prompt tokens the long-context prices apply.
    package var longContextThreshold: Int?
    package var longInputPerMillion: Int64?
    package var longOutputPerMillion: Int64?
    package var longCachedInputPerMillion: Int64?
    /// Audio, image and video input, where Google prices them apart from text (2.5 Flash audio:
    /// $1.00 against $0.30; `gemini-embedding-2` image 0.45, audio 6.50, video 12.00 against
    /// 0.20); nil: as the input price. None is ever billed below the input price.
    package var audioInputPerMillion: Int64?
    package var imageInputPerMillion: Int64?
    package var videoInputPerMillion: Int64?

    package init(
        input: Int64, output: Int64, cachedInput: Int64, cacheStorage: Int64 = 1_000_000, search: Int64 = 14_000_000,
        longContextThreshold: Int? = nil, longInput: Int64? = nil, longOutput: Int64? = nil, longCachedInput: Int64? = nil,
        audioInput: Int64? = nil, imageInput: Int64? = nil, videoInput: Int64? = nil, searchPerPrompt: Bool = false
    ) {
        self.searchPerPrompt = searchPerPrompt
        inputPerMillion = input
        outputPerMillion = output
        cachedInputPerMillion = cachedInput
        cacheStoragePerMillionHour = cacheStorage
        searchPerThousand = search
        self.longContextThreshold = longContextThreshold
        longInputPerMillion = longInput
        longOutputPerMillion = longOutput
        longCachedInputPerMillion = longCachedInput
        audioInputPerMillion = audioInput
        imageInputPerMillion = imageInput
        videoInputPerMillion = videoInput
    }

    /// This standard row at another tier, by Google's published multipliers, for models without
    /// a row of their own at that tier: flex 0.5×; batch 0.5× except cached input, which batch
    /// bills at the normal cached price; priority 1.8× (the multiple of every published priority
    /// row). Storage and grounding do not depend on the tier. Rounded up: never undercharge.
    /// Sources: ai.google.dev/gemini-api/docs/optimization, …/batch-api ("Technical details"),
    /// …/priority-inference (read 2026-10-07).
    package func derived(for tier: ServiceTier) -> ModelPrice {
        let scale: (Int64) -> Int64
        switch tier {
        case .standard: return self
        case .flex, .batch: scale = { ($0 + 1) / 2 }
        case .priority: scale = { ($0 * 9 + 4) / 5 }
        }
        var price = self
        price.inputPerMillion = scale(inputPerMillion)
        price.outputPerMillion = scale(outputPerMillion)
        price.longInputPerMillion = longInputPerMillion.map(scale)
        price.longOutputPerMillion = longOutputPerMillion.map(scale)
        price.audioInputPerMillion = audioInputPerMillion.map(scale)
        price.imageInputPerMillion = imageInputPerMillion.map(scale)
        price.videoInputPerMillion = videoInputPerMillion.map(scale)
        if tier != .batch {
            price.cachedInputPerMillion = scale(cachedInputPerMillion)
            price.longCachedInputPerMillion = longCachedInputPerMillion.map(scale)
        }
        return price
    }

    /// The cost of one answer at this price, rounded up to the micro-dollar (never undercharge).
    package func cost(_ usage: BillableUsage) -> MicroUSD {
        let long = longContextThreshold.map { usage.promptTokens > $0 } ?? false
        let input = long ? longInputPerMillion ?? inputPerMillion : inputPerMillion
        let output = long ? longOutputPerMillion ?? outputPerMillion : outputPerMillion
        let cached = long ? longCachedInputPerMillion ?? cachedInputPerMillion : cachedInputPerMillion
        // Uncached media at its modality's price (never below the input price; media of a kind
        // not known at the highest of them), dearest first, and the rest at the input price.
        // Counts are at most `BillableUsage.maxTokens` each, prices are whatever a config says:
        // the products are taken in 128 bits and the cost saturates at `MicroUSD.max`.
        let usage = usage.bounded
        var rest = max(0, usage.promptTokens - usage.cachedTokens)
        var media: Int128 = 0
        let counts = usage.media
        if counts != MediaTokens() {
            let audioRate = max(audioInputPerMillion ?? input, input)
            let imageRate = max(imageInputPerMillion ?? input, input)
            let videoRate = max(videoInputPerMillion ?? input, input)
            for (tokens, rate) in [
                (counts.any, max(audioRate, imageRate, videoRate)), (counts.video, videoRate), (counts.audio, audioRate),
                (counts.image, imageRate),
            ] {
                let taken = min(max(0, tokens), rest)
                rest -= taken
                media += Int128(taken) * Int128(rate)
            }
        }
        // micro-dollars per million tokens × tokens, / 1e6 → micro-dollars.
        let perMillion =
            media + Int128(rest) * Int128(input) + Int128(min(usage.cachedTokens, usage.promptTokens)) * Int128(cached)
            + Int128(usage.outputTokens) * Int128(output)
        let tokens = (perMillion + 999_999) / 1_000_000
        let searches = searchPerPrompt ? min(usage.searchQueries, 1) : usage.searchQueries
        let search = (Int128(searches) * Int128(searchPerThousand) + 999) / 1000
        let total = tokens + search
        return MicroUSD(saturating: total)
    }
}

/// Token counts that cost money.
package struct BillableUsage: Sendable, Equatable {
    /// The most tokens one count of one answer is taken to hold (over four billion, thousands of
    /// times any model's window): a larger count, which only a broken upstream reports, is read
    /// as this many, so the call is charged the most it could be and no sum overflows.
    package static let maxTokens = 1 << 32

    /// Every count within 0...`maxTokens`.
    package var bounded: BillableUsage {
        func clamp(_ count: Int) -> Int { Swift.min(Swift.max(0, count), Self.maxTokens) }
        var usage = self
        usage.promptTokens = clamp(promptTokens)
        usage.cachedTokens = clamp(cachedTokens)
        usage.outputTokens = clamp(outputTokens)
        usage.searchQueries = clamp(searchQueries)
        usage.media = MediaTokens(audio: clamp(media.audio), image: clamp(media.image), video: clamp(media.video), any: clamp(media.any))
        return usage
    }

    /// All prompt tokens, cached ones included (Gemini's `promptTokenCount` + tool-use prompt).
    package var promptTokens: Int = 0
    /// The part of `promptTokens` served from a context cache, billed at the cached rate.
    package var cachedTokens: Int = 0
    /// Output including thinking: thoughts are billed as output.
    package var outputTokens: Int = 0
    package var searchQueries: Int = 0
    /// The parts of the uncached prompt that are media, billed at their modality's price.
    package var media = MediaTokens()

    package init(
        promptTokens: Int = 0, cachedTokens: Int = 0, outputTokens: Int = 0, searchQueries: Int = 0,
        media: MediaTokens = MediaTokens()
    ) {
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.outputTokens = outputTokens
        self.searchQueries = searchQueries
        self.media = media
    }
}

/// Input tokens by media kind, as a bill reports them (`promptTokensDetails`) or a reservation
/// bounds them: audio (and a video's sound), images, a video's frames, and `any` for media of a
/// kind not known (a `fileData` of video or of no given type), priced at the dearest of the three.
package struct MediaTokens: Sendable, Equatable {
    package var audio = 0
    package var image = 0
    package var video = 0
    package var any = 0

    package init(audio: Int = 0, image: Int = 0, video: Int = 0, any: Int = 0) {
        self.audio = audio
        self.image = image
        self.video = video
        self.any = any
    }
}
