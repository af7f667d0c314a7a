import FlashgateCore

extension Gateway {
    /// The tier of a request that names none: its team's default, else its model's; nil for
    /// standard (the body then names no tier, as before tiers existed).
    func defaultTier(_ caller: Caller, model: String) -> ServiceTier? {
        guard hasTierDefaults else { return nil }
        let id = ModelID.bare(model)
        let tier = accountant.team(caller)?.serviceTier ?? config.model(answering: id)?.serviceTier
        return tier == .standard ? nil : tier
    }

    /// Refuses a native body whose `serviceTier` names no tier a call can ask for (`batch`
    /// included: batch prices apply to batch jobs only).
    static func checkNativeTier(_ body: JSONValue) throws(FlashgateError) {
        for field in ["serviceTier", "service_tier"] {
            guard let value = body[field], !value.isNull else { continue }
            guard let text = value.stringValue, ServiceTier(native: text) != nil else {
                throw .invalid("'\(field)' must be standard, flex or priority", param: field)
            }
        }
    }

    /// A native generation body with the caller's default tier written in when it names none;
    /// nil when nothing changes (the bytes then go upstream as sent).
    func nativeBodyWithDefaultTier(_ body: JSONValue, caller: Caller, model: String) -> JSONValue? {
        guard body["serviceTier"] == nil, body["service_tier"] == nil, let tier = defaultTier(caller, model: model),
            case .object(var object) = body
        else { return nil }
        object["serviceTier"] = .string(tier.rawValue)
        return .object(object)
    }
}
