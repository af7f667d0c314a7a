/// Decides, from a prefix's observed traffic and the model's prices, whether an explicit Gemini
/// context cache pays: the cost planner of automatic context caching. Pure: no clock, no I/O.
///
/// Symbols (context-caching.md §9): I input, C cached read, S storage per 1M tokens·hour (all at
/// the model's price and tier), T the prefix's tokens, H the cache's lifetime in hours, n the
/// prefix's reads seen in the last `window` (so the forecast is n·H/window reads), p the
/// implicit-cache hit ratio Gemini already gives it.
/// - create when the forecast saving over the implicit baseline, n·H/window · T·(1−p)·(I−C),
///   exceeds creation (one full-price pass, T·I) plus rent (T·S·H);
/// - keep alive (extend the TTL) when the reads alone pay the next lifetime's rent:
///   n·H/window · T·(1−p)·(I−C) > T·S·H.
/// A longer prefix whose shorter one already has a live cache saves, per read, only on the tokens
/// beyond that cache (`alreadyCached`), while its creation and rent cover all its tokens; of a
/// request's candidates, the longer is preferred only when it saves strictly more (`preferred`).
/// Invariant: never creates below the model's minimum tokens or before `minRequests` reads; the
/// dollar figures it reports are forecasts (rounded up, in MicroUSD), never what is charged.
package struct ContextCachePlanner: Sendable {
    package var minimumTokens: Int
    package var minRequests: Int
    package var ttl: Duration
    package var window: Duration

    package init(minimumTokens: Int, minRequests: Int, ttl: Duration, window: Duration) {
        self.minimumTokens = minimumTokens
        self.minRequests = minRequests
        self.ttl = ttl
        self.window = window
    }

    /// What a prefix has shown so far.
    package struct Traffic: Sendable, Equatable {
        /// Its tokens (from usage).
        package var tokens: Int
        /// Reads seen within the window.
        package var reads: Int
        /// Implicit cache hits Gemini reported, in thousandths of the prefix (0…1000).
        package var implicitPermille: Int

        package init(tokens: Int, reads: Int, implicitPermille: Int = 0) {
            self.tokens = tokens
            self.reads = reads
            self.implicitPermille = implicitPermille
        }
    }

    /// The forecast behind a decision, in micro-dollars.
    package struct Forecast: Sendable, Equatable {
        package var saving: MicroUSD
        package var creation: MicroUSD
        package var storage: MicroUSD

        package init(saving: MicroUSD, creation: MicroUSD, storage: MicroUSD) {
            self.saving = saving
            self.creation = creation
            self.storage = storage
        }

        /// Saving after creation and storage (negative: caching would lose money).
        package var net: MicroUSD { MicroUSD(saving.value - creation.value - storage.value) }
    }

    package enum Decision: Sendable, Equatable {
        case create(Forecast)
        case skip(Reason)
    }

    package enum Reason: String, Sendable, Equatable {
        case tooSmall = "too_small"
        case tooFewReads = "too_few_reads"
        case doesNotPay = "does_not_pay"
        /// Not the planner's own verdict: the cache's route would send the prefix differently
        /// from the call (a thought signature of another route), so a cache of it is never read.
        case notAsSent = "not_as_sent"
    }

    /// Whether to create a cache for a prefix with this traffic at `price`; `alreadyCached` tokens
    /// of it are read from a live cache of a shorter prefix already.
    package func decide(_ traffic: Traffic, price: ModelPrice, alreadyCached: Int = 0) -> Decision {
        guard traffic.tokens >= minimumTokens else { return .skip(.tooSmall) }
        guard traffic.reads >= minRequests else { return .skip(.tooFewReads) }
        let forecast = self.forecast(traffic, price: price, alreadyCached: alreadyCached)
        return forecast.net.value > 0 ? .create(forecast) : .skip(.doesNotPay)
    }

    /// Of one request's candidate decisions (shortest prefix first), the index of the cache to
    /// create: the largest net saving, a longer prefix only when it saves strictly more; nil when
    /// none pays.
    package static func preferred(_ decisions: [Decision]) -> Int? {
        var best: (index: Int, net: Int64)?
        for (index, decision) in decisions.enumerated() {
            guard case .create(let forecast) = decision else { continue }
            if best == nil || forecast.net.value > best!.net { best = (index, forecast.net.value) }
        }
        return best?.index
    }

    /// Whether a live cache's reads pay the rent of one more lifetime.
    package func keepAlive(_ traffic: Traffic, price: ModelPrice) -> Bool {
        let forecast = self.forecast(traffic, price: price)
        return forecast.saving.value > forecast.storage.value
    }

    /// Saving, creation and storage of one lifetime, rounded up; the saving counts only the tokens
    /// beyond `alreadyCached`.
    package func forecast(_ traffic: Traffic, price: ModelPrice, alreadyCached: Int = 0) -> Forecast {
        let tokens = Double(traffic.tokens)
        let beyond = Double(max(0, traffic.tokens - max(0, alreadyCached)))
        let hours = Double(ttl.milliseconds) / 3_600_000
        let reads = Double(traffic.reads) * Double(ttl.milliseconds) / Double(max(1, window.milliseconds))
        let missed = Double(1000 - min(1000, max(0, traffic.implicitPermille))) / 1000
        let perRead = beyond * missed * Double(max(0, price.inputPerMillion - price.cachedInputPerMillion)) / 1e6
        let saving = reads * perRead
        let creation = tokens * Double(price.inputPerMillion) / 1e6
        let storage = tokens * Double(price.cacheStoragePerMillionHour) * hours / 1e6
        return Forecast(
            saving: MicroUSD(rounding: saving, .down), creation: MicroUSD(rounding: creation, .up),
            storage: MicroUSD(rounding: storage, .up))
    }

    /// Rent of `tokens` for `seconds`, rounded up to the micro-dollar: what storage is charged.
    package static func storageCost(tokens: Int, seconds: Int64, price: ModelPrice) -> MicroUSD {
        // µ$ per 1M tokens·hour × tokens × seconds / (1e6 × 3600), in 128 bits: a long TTL, a
        // large cache or a made-up price cannot overflow it; the rent saturates at `MicroUSD.max`.
        let numerator = Int128(max(0, tokens)) * Int128(price.cacheStoragePerMillionHour) * Int128(max(0, seconds))
        let rent = (numerator + 3_599_999_999) / 3_600_000_000
        return MicroUSD(saturating: rent)
    }
}
