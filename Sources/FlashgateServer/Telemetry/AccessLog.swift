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
        logger.info("request", metadata: Self.metadata(s))
    }

    static func metadata(_ s: RequestRecord.Summary) -> Logger.Metadata {
        // Sized for every field at once: growing the dictionary field by field rehashed it twice.
        var m = Logger.Metadata(minimumCapacity: 24)
        m["request_id"] = "\(s.requestID)"
        m["method"] = .string(LogText.capped(s.method))
        m["endpoint"] = "\(s.endpoint)"
        m["status"] = .string(String(s.status))
        m["duration_ms"] = .string(Self.ms(s.duration))
        if let team = s.team { m["team"] = .string(team) }
        if let key = s.key, !key.isEmpty { m["key"] = .string(key) }
        if let model = s.model { m["model"] = .string(LogText.capped(model)) }
        if let route = s.route { m["route"] = .string(route) }
        if let cache = s.cache { m["cache"] = .string(cache) }
        if s.promptTokens + s.outputTokens > 0 {
            m["prompt_tokens"] = .string(String(s.promptTokens))
            m["output_tokens"] = .string(String(s.outputTokens))
            if s.thoughtsTokens > 0 { m["thoughts_tokens"] = .string(String(s.thoughtsTokens)) }
            if s.cachedTokens > 0 { m["cached_tokens"] = .string(String(s.cachedTokens)) }
        }
        if s.cache != nil || s.cost > .zero { m["cost_usd"] = .string(s.cost.dollars) }
        if s.saved > .zero { m["saved_usd"] = .string(s.saved.dollars) }
        if let ttfb = s.timeToFirstByte { m["ttfb_ms"] = .string(Self.ms(ttfb)) }
        if let upstream = s.upstreamTime { m["upstream_ms"] = .string(Self.ms(upstream)) }
        if !s.attempts.isEmpty { m["attempts"] = "\(s.attempts.map(\.compact).joined(separator: ","))" }
        if let rejected = s.rejectedBy { m["rejected_by"] = "\(rejected)" }
        if let refused = s.refused { m["refused"] = "\(refused.rawValue)" }
        if !s.softBudgetsExceeded.isEmpty { m["budget_exceeded"] = "\(s.softBudgetsExceeded.joined(separator: ","))" }
        if s.aborted { m["aborted"] = "true" }
        return m
    }

    /// Milliseconds with three decimals (microsecond resolution).
    static func ms(_ d: Duration) -> String {
        let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
        let whole = micros / 1000
        let frac = micros % 1000
        return "\(whole)." + String(repeating: "0", count: frac < 10 ? 2 : frac < 100 ? 1 : 0) + "\(frac)"
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
