import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire

/// What the response cache does with one generation, chat or native alike: its key, its policy
/// (the request's cache headers, the config and the team's switch) and its TTL.
///
/// Invariant: a generation is cached only when the store is open, `cache.enabled` is on and the
/// caller's team does not turn it off; `x-flashgate-cache-ttl` overrides the configured TTL.
struct CacheRules: Sendable {
    /// The longest TTL a request's `x-flashgate-cache-ttl` may set: ten years.
    static let maxClientTTLSeconds = 10 * 365 * 86_400

    let config: FlashgateConfig
    let accountant: Accountant
    /// Whether the response cache is open (nil store: off, or could not be opened).
    let storeOpen: Bool

    /// What the response cache may do for one request of `caller`: its headers, the config and
    /// the team's switch.
    func policy(_ request: GatewayRequest, caller: Caller) -> CachePolicy {
        let teamCache = accountant.team(caller)?.cache ?? true
        return CachePolicy(headers: request.headers, enabled: storeOpen && config.cache.enabled && teamCache)
    }

    /// The cache key, policy and TTL of one generation; `knownKey` is the key of `body` made
    /// before (`ChatTranslationMemo`), used instead of making it again, and `policy` the
    /// request's (`policy(_:caller:)`) when the caller already has it.
    func call(
        _ request: GatewayRequest, caller: Caller, model: String, body: JSONValue, upstream: UpstreamCall,
        mode: AnswerMode, knownKey: CacheKey? = nil, policy known: CachePolicy? = nil
    ) -> GenerateCall {
        let team = caller.team
        var ttl = config.cacheTTL(model: model, route: upstream.plan.route, team: team)
        // A client's TTL: whole seconds, at most ten years (more is taken as ten years).
        if let header = request.headers.first(name: "x-flashgate-cache-ttl"), let seconds = Self.seconds(header) {
            ttl = .seconds(min(seconds, Self.maxClientTTLSeconds))
        }
        let policy = known ?? policy(request, caller: caller)
        let key =
            policy.bypass
            ? nil : knownKey ?? CacheKey.make(endpoint: .generate, model: model, team: team, config: config, body: body)
        return GenerateCall(
            key: key,
            policy: policy,
            ttl: ttl, upstream: upstream, mode: mode, clientModel: model, caller: caller, body: body,
            record: request.record,
            contextCache: request.headers.first(name: "x-flashgate-context-cache")?.lowercased() != "off",
            cacheTeam: config.cache.scope == .shared ? "" : team)
    }

    /// A TTL header's whole seconds: digits only; a number too large for an `Int` is past ten
    /// years anyway (it had been dropped, and the configured TTL applied instead).
    static func seconds(_ header: String) -> Int? {
        guard !header.isEmpty, header.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Int(header) ?? Int.max
    }
}
