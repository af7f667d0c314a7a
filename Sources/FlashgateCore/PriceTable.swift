import Synchronization

/// One price of the table: a model-id prefix at one tier, in effect from a date on.
package struct PriceRow: Sendable, Equatable {
    package var prefix: String
    package var tier: ServiceTier
    /// Unix milliseconds (UTC) from which this row applies; 0 for always.
    package var effectiveFromMs: Int64
    package var price: ModelPrice

    package init(_ prefix: String, _ tier: ServiceTier, from effectiveFromMs: Int64, _ price: ModelPrice) {
        self.prefix = prefix
        self.tier = tier
        self.effectiveFromMs = effectiveFromMs
        self.price = price
    }

    package init(_ prefix: String, _ price: ModelPrice) { self.init(prefix, .standard, from: 0, price) }

    package init(_ prefix: String, _ tier: ServiceTier, _ price: ModelPrice) { self.init(prefix, tier, from: 0, price) }

    package init(_ prefix: String, from effectiveFromMs: Int64, _ price: ModelPrice) {
        self.init(prefix, .standard, from: effectiveFromMs, price)
    }
}

/// The versioned, dated price table for Gemini models and their service tiers, overridable in
/// config.
///
/// Lookups match the longest known model-id prefix, so dated or suffixed ids
/// (`-preview-09-2025`) find their row; a tier without a row of its own is derived from the
/// standard row (`ModelPrice.derived(for:)`); of several dated rows, the latest one in effect
/// at the call's time applies.
///
/// Invariant: "no price, no call". A model matching no prefix has no price (nil), never $0,
/// unless the table has an explicit fallback row under `PriceTable.fallbackPrefix`.
package struct PriceTable: Sendable, Equatable {
    /// The date the built-in rows were last checked against their sources.
    package static let version = "2026-12-07"
    /// The config key of the row for models no other row matches: `prices: {"*": {...}}`.
    package static let fallbackPrefix = "*"

    /// prefix → tier → rows sorted by `effectiveFromMs`.
    private var rows: [String: [ServiceTier: [PriceRow]]] = [:]
    /// The prefixes of `rows` but the fallback, longest first (ties in order): the first a model
    /// id starts with is its row. Kept by the two mutations, `add` and `set`.
    private var longestFirst: [String] = []
    /// Model ids already matched to their prefix; replaced (never shared) when rows change.
    private var matched = PrefixMemo()

    package init(rows: [PriceRow] = PriceTable.builtIn) {
        for row in rows { add(row) }
    }

    /// Every prefix with a row, the fallback included.
    package var prefixes: [String] { rows.keys.sorted() }

    /// Adds a dated row next to the ones of its prefix and tier.
    package mutating func add(_ row: PriceRow) {
        var list = rows[row.prefix, default: [:]][row.tier, default: []]
        list.removeAll { $0.effectiveFromMs == row.effectiveFromMs }
        list.append(row)
        list.sort { $0.effectiveFromMs < $1.effectiveFromMs }
        rows[row.prefix, default: [:]][row.tier] = list
        longestFirst = Self.byLength(rows.keys)
        matched = PrefixMemo()
    }

    /// Replaces every dated row of a prefix at a tier with one price in effect always (config).
    package mutating func set(_ price: ModelPrice, prefix: String, tier: ServiceTier = .standard) {
        rows[prefix, default: [:]][tier] = [PriceRow(prefix, tier, from: 0, price)]
        longestFirst = Self.byLength(rows.keys)
        matched = PrefixMemo()
    }

    package static func == (a: PriceTable, b: PriceTable) -> Bool { a.rows == b.rows }

    /// The row a model's id falls under: the longest matching prefix, else the fallback row.
    package func prefix(for model: String) -> String? {
        if let known = matched.lookup(model) { return known.prefix }
        let found = match(model)
        matched.remember(model, found)
        return found
    }

    /// The scan `prefix(for:)` remembers: every prefix, longest first (about 2,500 instructions
    /// an id, asked for at admission and again at settlement).
    private func match(_ model: String) -> String? {
        let id = ModelID.bare(model)
        for prefix in longestFirst where id.hasPrefix(prefix) && !Self.namesOtherModality(id.utf8.dropFirst(prefix.utf8.count)) {
            return prefix
        }
        return rows[Self.fallbackPrefix] == nil ? nil : Self.fallbackPrefix
    }

    /// Dash-separated words in what follows a prefix that name a model with another output
    /// modality (`gemini-2.5-flash-image`, `…-preview-tts`, `…-native-audio-…`, `…-live-…`).
    /// Google prices their output apart (images and speech cost many times text), so such an id
    /// takes a row of its own, or the fallback row, never its text model's: no price, no call.
    static let otherModalityWords: Set<Substring> = ["image", "tts", "audio", "live", "video", "veo", "imagen"]

    static func namesOtherModality(_ rest: Substring.UTF8View) -> Bool {
        // Word by word, without building the list (the usual id is the prefix itself: no words).
        var words = Substring(rest)[...]
        while !words.isEmpty {
            let end = words.firstIndex(of: "-") ?? words.endIndex
            if otherModalityWords.contains(words[..<end]) { return true }
            words = end == words.endIndex ? words[end...] : words[words.index(after: end)...]
        }
        return false
    }

    private static func byLength(_ prefixes: Dictionary<String, [ServiceTier: [PriceRow]]>.Keys) -> [String] {
        var list = prefixes.filter { $0 != fallbackPrefix }
        list.sort { $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0 < $1 }
        return list
    }

    /// A model's price at a tier in effect at `atMs` (the latest dated row when not given,
    /// which for promotional prices is the higher one). nil: no price, no call.
    package func price(for model: String, tier: ServiceTier = .standard, atMs: Int64 = .max) -> ModelPrice? {
        guard let prefix = prefix(for: model), let tiers = rows[prefix] else { return nil }
        if let own = Self.inEffect(tiers[tier], atMs: atMs) { return own }
        return Self.inEffect(tiers[.standard], atMs: atMs)?.derived(for: tier)
    }

    /// The cost of one answer, rounded up to the micro-dollar; nil when the model has no price.
    package func cost(_ usage: BillableUsage, model: String, tier: ServiceTier = .standard, atMs: Int64 = .max) -> MicroUSD? {
        price(for: model, tier: tier, atMs: atMs)?.cost(usage)
    }

    private static func inEffect(_ list: [PriceRow]?, atMs: Int64) -> ModelPrice? {
        list?.last { $0.effectiveFromMs <= atMs }?.price ?? list?.first?.price
    }
}

/// Model ids a price table has matched, with the prefix each fell under (nil: none). At most
/// `capacity` ids (they come from calls), emptied when full.
final class PrefixMemo: Sendable {
    static let capacity = 1_024
    private let known = Mutex<[String: String?]>([:])

    struct Match { let prefix: String? }

    /// The prefix `model` fell under, if it was matched before.
    func lookup(_ model: String) -> Match? {
        known.withLock { known in known[model].map(Match.init) }
    }

    func remember(_ model: String, _ prefix: String?) {
        known.withLock { known in
            if known.count >= Self.capacity { known.removeAll(keepingCapacity: true) }
            known[model] = .some(prefix)
        }
    }
}
