/// The default service tier of requests that name none: their team's, else their model's.
///
/// Invariant: a body that names a tier keeps it; the standard tier is never written into a body
/// (it then names no tier, as before tiers existed).
package struct ServiceTiers: Sendable {
    let config: FlashgateConfig
    /// Whether any team or model sets a default service tier (most configs: no lookups per request).
    let hasTierDefaults: Bool

    package init(config: FlashgateConfig) {
        self.config = config
        hasTierDefaults = config.teams.contains { $0.serviceTier != nil } || config.models.contains { $0.serviceTier != nil }
    }

    /// The tier of a request that names none: its team's default, else its model's; nil for
    /// standard (the body then names no tier, as before tiers existed).
    package func defaultTier(_ caller: Caller, model: String) -> ServiceTier? {
        guard hasTierDefaults else { return nil }
        let id = ModelID.bare(model)
        let tier = config.teams.first { $0.id == caller.team }?.serviceTier ?? config.model(answering: id)?.serviceTier
        return tier == .standard ? nil : tier
    }

    /// Writes the caller's default tier into a translated (chat or Responses) Gemini body that
    /// names none.
    package func applyDefault(to gemini: inout JSONObject, caller: Caller, model: String) {
        guard gemini["serviceTier"] == nil, let tier = defaultTier(caller, model: model) else { return }
        gemini["serviceTier"] = .string(tier.rawValue)
    }

    /// Refuses a native body whose `serviceTier` names no tier a call can ask for (`batch`
    /// included: batch prices apply to batch jobs only).
    package static func checkNative(_ body: JSONValue) throws(FlashgateError) {
        var named: ServiceTier?
        for field in ["serviceTier", "service_tier"] {
            guard let value = body[field], !value.isNull else { continue }
            guard let text = value.stringValue, let tier = ServiceTier(native: text) else {
                throw .invalid("'\(field)' must be standard, flex or priority", param: field)
            }
            // Charged as one tier, served as the other: the call must say which.
            if let named, named != tier {
                throw .invalid("'serviceTier' and 'service_tier' name different tiers; send one", param: "serviceTier")
            }
            named = tier
        }
    }

    /// A native generation body with the caller's default tier written in when it names none;
    /// nil when nothing changes (the bytes then go upstream as sent).
    package func nativeBody(_ body: JSONValue, caller: Caller, model: String) -> JSONValue? {
        guard body["serviceTier"] == nil, body["service_tier"] == nil, let tier = defaultTier(caller, model: model),
            case .object(var object) = body
        else { return nil }
        object["serviceTier"] = .string(tier.rawValue)
        return .object(object)
    }
}
