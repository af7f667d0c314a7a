import FlashgateCore
import Logging

/// One structured line per request, through swift-log (logfmt or JSON by `log.format`): request
/// id, team, key name, model, route, status, cache outcome, tokens, cost, durations and attempts.
///
/// Invariant: nothing a client wrote goes in except closed-set labels, configured names (team,
/// key name, route) and the model id and method, which are capped at `LogText.fieldLimit` bytes
/// here and escaped by the log handler (`LogFormatHandler`, a client may send any bytes there):
/// never prompts, answers, or any key or token.
package struct AccessLog: TelemetrySink {
    package let logger: Logger
    /// `log.access` as it stands now (a reload may switch it); nil is always on.
    let enabled: OnOffSwitch?

    package init(logger: Logger, enabled: OnOffSwitch? = nil) {
        self.logger = logger
        self.enabled = enabled
    }

    package func finished(_ s: RequestRecord.Summary) {
        if let enabled, !enabled.isOn { return }
        // Flashgate's own handler takes the fields as they are, already in its key order; any
        // other handler gets them through swift-log.
        if let handler = logger.handler as? LogFormatHandler,
            handler.write(level: .info, message: "request", sortedFields: Self.fields(s))
        {
            return
        }
        logger.info("request", metadata: Self.metadata(s))
    }

    static func metadata(_ s: RequestRecord.Summary) -> Logger.Metadata {
        Dictionary(uniqueKeysWithValues: fields(s).map { ($0.0, Logger.MetadataValue.string($0.1)) })
    }

    /// The line's fields, sorted by key (the order the log handler writes them in; a test holds
    /// this function to it).
    static func fields(_ s: RequestRecord.Summary) -> [(String, String)] {
        var f: [(String, String)] = []
        f.reserveCapacity(24)
        if s.aborted { f.append(("aborted", "true")) }
        if !s.attempts.isEmpty { f.append(("attempts", s.attempts.map(\.compact).joined(separator: ","))) }
        if !s.softBudgetsExceeded.isEmpty { f.append(("budget_exceeded", s.softBudgetsExceeded.joined(separator: ","))) }
        if let cache = s.cache { f.append(("cache", cache)) }
        let tokens = s.promptTokens + s.outputTokens > 0
        if tokens, s.cachedTokens > 0 { f.append(("cached_tokens", String(s.cachedTokens))) }
        if s.cache != nil || s.cost > .zero { f.append(("cost_usd", s.cost.dollars)) }
        f.append(("duration_ms", Self.ms(s.duration)))
        f.append(("endpoint", s.endpoint))
        if let key = s.key, !key.isEmpty { f.append(("key", key)) }
        f.append(("method", LogText.capped(s.method)))
        if let model = s.model { f.append(("model", LogText.capped(model))) }
        if tokens { f.append(("output_tokens", String(s.outputTokens))) }
        if tokens { f.append(("prompt_tokens", String(s.promptTokens))) }
        if let refused = s.refused { f.append(("refused", refused.rawValue)) }
        if let rejected = s.rejectedBy { f.append(("rejected_by", rejected)) }
        f.append(("request_id", s.requestID))
        if let route = s.route { f.append(("route", route)) }
        if s.saved > .zero { f.append(("saved_usd", s.saved.dollars)) }
        f.append(("status", String(s.status)))
        if let team = s.team { f.append(("team", team)) }
        if tokens, s.thoughtsTokens > 0 { f.append(("thoughts_tokens", String(s.thoughtsTokens))) }
        if let ttfb = s.timeToFirstByte { f.append(("ttfb_ms", Self.ms(ttfb))) }
        if let upstream = s.upstreamTime { f.append(("upstream_ms", Self.ms(upstream))) }
        if let wire = s.upstreamWireTime { f.append(("upstream_wire_ms", Self.ms(wire))) }
        return f
    }

    /// Milliseconds with three decimals (microsecond resolution).
    static func ms(_ d: Duration) -> String {
        let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
        return FixedPointText.format(micros, decimals: 3)
    }
}

/// Several sinks as one (the access log and the metrics).
package struct TelemetrySinks: TelemetrySink {
    package var sinks: [any TelemetrySink]

    package init(_ sinks: [any TelemetrySink]) { self.sinks = sinks }

    package func finished(_ summary: RequestRecord.Summary) {
        for sink in sinks { sink.finished(summary) }
    }

    package func refused(_ summary: RequestRecord.Summary) {
        for sink in sinks { sink.refused(summary) }
    }
}
