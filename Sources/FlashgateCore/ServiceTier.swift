import Foundation

/// Gemini's service tiers: the same model at different prices, latencies and reliability.
///
/// Invariant: a call is reserved at the tier it asked for and charged at the tier Google says
/// served it (priority silently downgrades to standard past its limit; see `served(...)`).
/// `batch` is priced (batch jobs bill at it) but is not a tier a synchronous call can ask for.
package enum ServiceTier: String, Sendable, CaseIterable, Comparable {
    case standard
    case flex
    case batch
    case priority

    package static func < (a: ServiceTier, b: ServiceTier) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The tiers a synchronous `generateContent` call may ask for.
    package static let requestable: [ServiceTier] = [.standard, .flex, .priority]

    /// A native `serviceTier` value: `flex`, `standard`, `priority` in any case, or the proto
    /// enum spellings `SERVICE_TIER_FLEX`…; nil for anything else (including `batch`).
    package init?(native text: String) {
        var value = text.lowercased()
        if value.hasPrefix("service_tier_") { value.removeFirst("service_tier_".count) }
        guard let tier = ServiceTier(rawValue: value), ServiceTier.requestable.contains(tier) else { return nil }
        self = tier
    }

    /// The tier an OpenAI `service_tier` asks for. `auto` (and absence) leave the choice to the
    /// config's default: `.some(nil)`. `default` is standard; `priority` and `fast` are priority;
    /// OpenAI's `scale` and `ultrafast` have no Gemini tier: nil, refused by the caller.
    package static func openAI(_ text: String) -> ServiceTier?? {
        switch text {
        case "auto": .some(nil)
        case "default": .some(.standard)
        case "flex": .some(.flex)
        case "priority", "fast": .some(.priority)
        default: nil
        }
    }

    /// OpenAI's name for a served tier, echoed in `service_tier`.
    package var openAIName: String {
        switch self {
        case .standard, .batch: "default"
        case .flex: "flex"
        case .priority: "priority"
        }
    }

    /// The tier Google reports in the `x-gemini-service-tier` response header (AI Studio).
    package init?(servedHeader text: String) {
        guard let tier = ServiceTier(native: text.trimmingCharacters(in: .whitespaces)) else { return nil }
        self = tier
    }

    /// The tier Vertex reports in `usageMetadata.trafficType`; nil when it names none
    /// (provisioned throughput is prepaid and has no per-token tier: charged as requested).
    package init?(trafficType: String) {
        switch trafficType {
        case "ON_DEMAND": self = .standard
        case "ON_DEMAND_PRIORITY": self = .priority
        case "ON_DEMAND_FLEX", "ON_DEMAND_OFFPEAK": self = .flex
        default: return nil
        }
    }

    /// The tier that served a call: what the upstream said (header first, then the usage's
    /// traffic type), else what was asked for.
    package static func served(requested: ServiceTier, header: String?, trafficType: String?) -> ServiceTier {
        header.flatMap(ServiceTier.init(servedHeader:)) ?? trafficType.flatMap(ServiceTier.init(trafficType:)) ?? requested
    }

    /// The tier a canonical Gemini request asks for (`serviceTier`, or `service_tier`, which
    /// proto-JSON accepts too); standard when it names none or one Flashgate does not know
    /// (such bodies are refused before they get here).
    package static func requested(in body: JSONValue) -> ServiceTier {
        (body["serviceTier"] ?? body["service_tier"])?.stringValue.flatMap(ServiceTier.init(native:)) ?? .standard
    }
}
