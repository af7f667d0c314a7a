import FlashgateCore
import Testing

/// The context-cache planner's arithmetic, as tables of numbers (context-caching.md §9): create
/// only when the forecast saving beats creation plus rent, net of implicit caching.
@Suite struct ContextCachePlannerTests {
    static let flash = PriceTable().price(for: "gemini-3.5-flash")!
    static let flashLite = PriceTable().price(for: "gemini-2.5-flash-lite")!

    static func planner(
        model: String, ttl: Duration = .seconds(3600), window: Duration = .seconds(3600)
    ) -> ContextCachePlanner {
        ContextCachePlanner(
            minimumTokens: ContextCacheMinimums.tokens(model: model), minRequests: 2, ttl: ttl, window: window)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var model: String
        var tokens: Int
        var reads: Int
        var implicitPermille: Int
        var expected: ContextCachePlanner.Decision
        var testDescription: String { "\(model) \(tokens) tokens × \(reads) reads, implicit \(implicitPermille)‰" }
    }

    static func create(saving: Int64, creation: Int64, storage: Int64) -> ContextCachePlanner.Decision {
        .create(.init(saving: MicroUSD(saving), creation: MicroUSD(creation), storage: MicroUSD(storage)))
    }

    // 3.5 Flash: I $1.50, C $0.15, S $1.00 → a 10k-token read saves 13,500 µ$ with no implicit
    // hits; creation 15,000 µ$, an hour's rent 10,000 µ$. Flash-Lite: 900 µ$ a read, 1,000 µ$
    // creation, the same 10,000 µ$ rent, so it takes 13 reads an hour.
    static let rows: [Row] = [
        Row(model: "gemini-3.5-flash", tokens: 10_000, reads: 1, implicitPermille: 0, expected: .skip(.tooFewReads)),
        Row(
            model: "gemini-3.5-flash", tokens: 10_000, reads: 2, implicitPermille: 0,
            expected: create(saving: 27_000, creation: 15_000, storage: 10_000)),
        Row(model: "gemini-3.5-flash", tokens: 10_000, reads: 3, implicitPermille: 500, expected: .skip(.doesNotPay)),
        Row(
            model: "gemini-3.5-flash", tokens: 10_000, reads: 4, implicitPermille: 500,
            expected: create(saving: 27_000, creation: 15_000, storage: 10_000)),
        Row(model: "gemini-3.5-flash", tokens: 10_000, reads: 30, implicitPermille: 950, expected: .skip(.doesNotPay)),
        Row(model: "gemini-3.5-flash", tokens: 4_000, reads: 100, implicitPermille: 0, expected: .skip(.tooSmall)),
        Row(
            model: "gemini-2.5-flash-lite", tokens: 10_000, reads: 12, implicitPermille: 0, expected: .skip(.doesNotPay)
        ),
        Row(
            model: "gemini-2.5-flash-lite", tokens: 10_000, reads: 13, implicitPermille: 0,
            expected: create(saving: 11_700, creation: 1_000, storage: 10_000)),
        Row(model: "gemini-2.5-flash-lite", tokens: 2_000, reads: 500, implicitPermille: 0, expected: .skip(.tooSmall)),
    ]

    @Test(arguments: rows) func decides(_ row: Row) {
        let price = row.model.hasPrefix("gemini-3.5") ? Self.flash : Self.flashLite
        let traffic = ContextCachePlanner.Traffic(
            tokens: row.tokens, reads: row.reads, implicitPermille: row.implicitPermille)
        #expect(Self.planner(model: row.model).decide(traffic, price: price) == row.expected)
    }

    @Test func aShorterLifetimeThanTheWindowForecastsFewerReadsAndLessRent() {
        let planner = Self.planner(model: "gemini-3.5-flash", ttl: .seconds(1800))
        let forecast = planner.forecast(.init(tokens: 10_000, reads: 4), price: Self.flash)
        #expect(forecast == .init(saving: MicroUSD(27_000), creation: MicroUSD(15_000), storage: MicroUSD(5_000)))
        #expect(forecast.net == MicroUSD(7_000))
    }

    @Test func keepsAliveWhileReadsPayTheRent() {
        let flash = Self.planner(model: "gemini-3.5-flash")
        #expect(flash.keepAlive(.init(tokens: 10_000, reads: 1), price: Self.flash))
        let lite = Self.planner(model: "gemini-2.5-flash-lite")
        #expect(!lite.keepAlive(.init(tokens: 10_000, reads: 11), price: Self.flashLite))
        #expect(lite.keepAlive(.init(tokens: 10_000, reads: 12), price: Self.flashLite))
    }

    @Test func rentIsChargedByTheSecondRoundedUpToTheMicroDollar() {
        #expect(ContextCachePlanner.storageCost(tokens: 10_000, seconds: 3600, price: Self.flash) == MicroUSD(10_000))
        #expect(ContextCachePlanner.storageCost(tokens: 10_000, seconds: 1800, price: Self.flash) == MicroUSD(5_000))
        #expect(ContextCachePlanner.storageCost(tokens: 10_001, seconds: 1, price: Self.flash) == MicroUSD(3))
        // The longest life a client may ask for, on a large cache and a made-up price: no trap,
        // exact where it fits, `MicroUSD.max` where it does not.
        #expect(
            ContextCachePlanner.storageCost(tokens: 1_000_000, seconds: 999_999_999, price: Self.flash)
                == MicroUSD(277_777_777_500))
        var dear = Self.flash
        dear.cacheStoragePerMillionHour = .max
        #expect(ContextCachePlanner.storageCost(tokens: 1_000_000, seconds: 999_999_999, price: dear) == .max)
        #expect(ContextCachePlanner.storageCost(tokens: -5, seconds: -5, price: dear) == .zero)
        #expect(ContextCachePlanner.storageCost(tokens: 10_000, seconds: 0, price: Self.flash) == .zero)
    }

    @Test func minimumsAreDataAndConfigOverridesThem() {
        #expect(ContextCacheMinimums.tokens(model: "gemini-2.5-flash") == 1024)
        #expect(ContextCacheMinimums.tokens(model: "gemini-2.5-flash-lite") == 2048)
        #expect(ContextCacheMinimums.tokens(model: "gemini-3.5-flash") == 4096)
        #expect(ContextCacheMinimums.tokens(model: "made-up") == 4096)
        var config = ContextCacheConfig()
        config.minTokens = ["gemini-3": 2048, "gemini-3.5-flash": 1000]
        #expect(config.minimumTokens(model: "gemini-3.5-flash") == 1000)
        #expect(config.minimumTokens(model: "gemini-3.1-pro") == 2048)
        #expect(config.minimumTokens(model: "gemini-2.5-flash") == 1024)
    }

    static func map(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }

    static func config(_ context: [(String, ConfigNode)], teams: [ConfigNode] = []) -> ConfigNode {
        let route = map([("name", .scalar("studio")), ("kind", .scalar("gemini")), ("api_key_env", .scalar("K"))])
        var top: [(String, ConfigNode)] = [("routes", .list([route])), ("context_cache", map(context))]
        if !teams.isEmpty { top.append(("teams", .list(teams))) }
        return map(top)
    }

    @Test func theConfigSectionLoadsAndRefusesNonsense() throws {
        let root = Self.config(
            [
                ("scope", .scalar("shared")), ("ttl", .scalar("30m")), ("min_requests", .scalar("3")),
                ("min_tokens", Self.map([("gemini-3.5-flash", .scalar("2000"))])),
            ],
            teams: [Self.map([("id", .scalar("search")), ("context_cache", .scalar("false"))])])
        let config = try FlashgateConfig.load(root, environment: ["K": "k"])
        #expect(config.contextCache.scope == .shared)
        #expect(config.contextCache.ttl == .seconds(1800))
        #expect(config.contextCache.minRequests == 3)
        #expect(config.contextCache.minimumTokens(model: "gemini-3.5-flash") == 2000)
        #expect(config.teams.first?.contextCache == false)
        for bad in [("scope", "all"), ("ttl", "10s"), ("min_requests", "0"), ("enabled", "maybe")] {
            #expect(throws: ConfigError.self) {
                try FlashgateConfig.load(Self.config([(bad.0, .scalar(bad.1))]), environment: ["K": "k"])
            }
        }
    }
}

/// Two candidate prefixes of one request: which one the planner would cache.
extension ContextCachePlannerTests {
    @Test func aLongerPrefixWhoseShorterOneIsCachedSavesOnlyOnTheTokensBeyondIt() {
        let planner = Self.planner(model: "gemini-3.5-flash")
        // 30k tokens, 10k of them in a live base cache: 2 reads save 2 × 20k × 1.35 $/1M.
        let traffic = ContextCachePlanner.Traffic(tokens: 30_000, reads: 2)
        #expect(
            planner.forecast(traffic, price: Self.flash, alreadyCached: 10_000)
                == .init(saving: MicroUSD(54_000), creation: MicroUSD(45_000), storage: MicroUSD(30_000)))
        #expect(planner.decide(traffic, price: Self.flash, alreadyCached: 10_000) == .skip(.doesNotPay))
        #expect(
            planner.decide(.init(tokens: 30_000, reads: 3), price: Self.flash, alreadyCached: 10_000)
                == Self.create(saving: 81_000, creation: 45_000, storage: 30_000))
        // Without a live base cache the same two reads pay for the whole prefix.
        #expect(
            planner.decide(traffic, price: Self.flash)
                == Self.create(saving: 81_000, creation: 45_000, storage: 30_000))
    }

    @Test func ofTwoCandidatesTheLongerIsPreferredOnlyWhenItSavesMore() {
        let planner = Self.planner(model: "gemini-3.5-flash")
        let base = ContextCachePlanner.Traffic(tokens: 10_000, reads: 4)
        // Shared by every request: a long document read as often as the system prompt wins.
        let shared = planner.decide(.init(tokens: 40_000, reads: 4), price: Self.flash)
        #expect(ContextCachePlanner.preferred([planner.decide(base, price: Self.flash), shared]) == 1)
        // Read by half the requests, a prefix twice as long saves less than the base one.
        let half = planner.decide(.init(tokens: 20_000, reads: 2), price: Self.flash)
        #expect(ContextCachePlanner.preferred([planner.decide(base, price: Self.flash), half]) == 0)
        // A tie keeps the shorter; an extended one alone is created; nothing that does not pay.
        let same = planner.decide(base, price: Self.flash)
        #expect(ContextCachePlanner.preferred([same, same]) == 0)
        #expect(ContextCachePlanner.preferred([.skip(.tooSmall), shared]) == 1)
        #expect(ContextCachePlanner.preferred([.skip(.tooFewReads), .skip(.doesNotPay)]) == nil)
        #expect(ContextCachePlanner.preferred([]) == nil)
    }
}
