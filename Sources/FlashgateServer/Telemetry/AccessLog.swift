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
    /// The logger's handler when it is Flashgate's own (cast once here, not once a request).
    private let ownHandler: LogFormatHandler?

    package init(logger: Logger, enabled: OnOffSwitch? = nil) {
        self.logger = logger
        self.enabled = enabled
        self.ownHandler = logger.handler as? LogFormatHandler
    }

    package func finished(_ s: RequestRecord.Summary) {
        if let enabled, !enabled.isOn { return }
        // Flashgate's own handler takes the fields straight into its line, already in its key
        // order; any other handler gets them through swift-log.
        if let handler = ownHandler,
            handler.write(level: .info, message: "request", fields: { Self.write(s, to: &$0) })
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
        var pairs = FieldPairs()
        write(s, to: &pairs)
        return pairs.pairs
    }

    /// The line's fields, in key order, into `line`: numbers as digits, durations as
    /// milliseconds with three decimals, money as dollars with six.
    static func write(_ s: RequestRecord.Summary, to line: inout some AccessFields) {
        if s.aborted { line.add("aborted", "true") }
        if !s.attempts.isEmpty { line.add("attempts", s.attempts.map(\.compact).joined(separator: ",")) }
        if !s.softBudgetsExceeded.isEmpty { line.add("budget_exceeded", s.softBudgetsExceeded.joined(separator: ",")) }
        if let cache = s.cache { line.add("cache", cache) }
        let tokens = s.promptTokens + s.outputTokens > 0
        if tokens, s.cachedTokens > 0 { line.add("cached_tokens", Int64(s.cachedTokens), decimals: 0) }
        if s.cache != nil || s.cost > .zero { line.add("cost_usd", s.cost.value, decimals: 6) }
        line.add("duration_ms", micros(s.duration), decimals: 3)
        line.add("endpoint", s.endpoint)
        if let key = s.key, !key.isEmpty { line.add("key", key) }
        line.add("method", LogText.capped(s.method))
        if let model = s.model { line.add("model", LogText.capped(model)) }
        if tokens { line.add("output_tokens", Int64(s.outputTokens), decimals: 0) }
        if tokens { line.add("prompt_tokens", Int64(s.promptTokens), decimals: 0) }
        if let refused = s.refused { line.add("refused", refused.rawValue) }
        if let rejected = s.rejectedBy { line.add("rejected_by", rejected) }
        line.add("request_id", s.requestID)
        if let route = s.route { line.add("route", route) }
        if s.saved > .zero { line.add("saved_usd", s.saved.value, decimals: 6) }
        line.add("status", Int64(s.status), decimals: 0)
        if let team = s.team { line.add("team", team) }
        if tokens, s.thoughtsTokens > 0 { line.add("thoughts_tokens", Int64(s.thoughtsTokens), decimals: 0) }
        if let ttfb = s.timeToFirstByte { line.add("ttfb_ms", micros(ttfb), decimals: 3) }
        if let upstream = s.upstreamTime { line.add("upstream_ms", micros(upstream), decimals: 3) }
        if let wire = s.upstreamWireTime { line.add("upstream_wire_ms", micros(wire), decimals: 3) }
    }

    /// A duration in whole microseconds (written as milliseconds with three decimals).
    static func micros(_ d: Duration) -> Int64 {
        d.wholeMicroseconds
    }
}

/// Where the access log's fields go, in key order: a logfmt line's bytes, or pairs for swift-log.
protocol AccessFields {
    mutating func add(_ key: StaticString, _ value: String)
    mutating func add(_ key: StaticString, _ value: Int64, decimals: Int)
}

extension LogfmtFields: AccessFields {}

struct FieldPairs: AccessFields {
    var pairs: [(String, String)] = []

    mutating func add(_ key: StaticString, _ value: String) { pairs.append((key.description, value)) }

    mutating func add(_ key: StaticString, _ value: Int64, decimals: Int) {
        pairs.append((key.description, FixedPointText.format(value, decimals: decimals)))
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
