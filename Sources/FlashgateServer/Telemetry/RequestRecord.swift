import FlashgateCore
import FlashgateRouting
import FlashgateWire
import Synchronization

/// What one request did, filled in as the pipeline learns it (who, which model and route, cache
/// outcome, tokens, cost, attempts) and by the writer (status, time to first byte), then handed
/// once to `Telemetry` when the response is over: one access-log line and the metrics.
///
/// Invariants: only closed-set values and ids go in (never prompts, answers or keys: the key's
/// configured *name* only); `finish` reports at most once, whatever path ends the request.
package final class RequestRecord: Sendable {
    package struct Summary: Sendable {
        package var requestID: String
        /// As the client sent it (`-` when the parser refused the head): log it through `LogText`.
        package var method: String
        /// A closed set: `chat`, `embeddings`, `generate`, `stream`, `count_tokens`, `embed`, `models`,
        /// `health`, `admin`, `dashboard`, `metrics`, `other`, and `edge` for a request refused
        /// before any endpoint saw it (unparsable, over a size or time limit, an unknown `Expect`).
        package var endpoint: String
        package var status = 0
        package var team: String?
        package var key: String?
        package var model: String?
        package var route: String?
        /// `hit`, `miss`, `joined`, `bypass`; nil when the request never reached the cache.
        package var cache: String?
        package var promptTokens = 0
        package var outputTokens = 0
        package var thoughtsTokens = 0
        package var cachedTokens = 0
        package var cost = MicroUSD.zero
        package var saved = MicroUSD.zero
        package var attempts: [AttemptRecord] = []
        /// Why Flashgate refused the request itself (nil when it did not): set by `refuse`.
        package var refused: RefusalReason?
        /// Soft budgets the admitted call went over (`team:<id>:<period>`, `key:<name>:<period>`).
        package var softBudgetsExceeded: [String] = []
        package var duration: Duration = .zero
        package var timeToFirstByte: Duration?
        /// From the first upstream attempt to the answer's start (nil when nothing went upstream).
        package var upstreamTime: Duration?
        /// The answering attempt's time inside the transport, from joining the curl loop to its
        /// head: `upstreamTime` less building the request, the hand-offs to the curl thread and
        /// back, and earlier attempts (nil when not measured).
        package var upstreamWireTime: Duration?
        /// The connection was cut before the response completed.
        package var aborted = false
    }

    private let state: Mutex<Summary>
    private let started = ContinuousClock.now
    /// Whether the response ended (`finish`), and whether its report waits for `releaseReport`.
    private struct Ending {
        var finished = false
        var held = false
    }

    private let ending = Mutex(Ending())
    private let refusalReported = Atomic<Bool>(false)
    private let sink: (any TelemetrySink)?

    package init(requestID: String, method: String, endpoint: String, sink: (any TelemetrySink)?) {
        state = Mutex(Summary(requestID: requestID, method: method, endpoint: endpoint))
        self.sink = sink
    }

    package func update(_ body: (inout Summary) -> Void) { state.withLock { body(&$0) } }

    package var summary: Summary { state.withLock { $0 } }

    /// Notes who called and for which model, once both are known.
    package func identify(_ caller: Caller, model: String) {
        update { summary in
            summary.team = caller.team
            summary.key = caller.key
            summary.model = model
        }
    }

    /// Notes that Flashgate refused the request for `reason` (nil: the error was no refusal), and
    /// who the caller was when that is known. The sinks hear of it once, as the response starts.
    package func refuse(_ reason: RefusalReason?, caller: Caller? = nil) {
        update { summary in
            if let reason { summary.refused = reason }
            if let caller {
                summary.team = caller.team
                summary.key = caller.key
            }
        }
    }

    /// The writer sent the head.
    func responded(status: Int) {
        let elapsed = started.duration(to: .now)
        let summary = state.withLock { summary in
            if summary.status == 0 { summary.status = status }
            if summary.timeToFirstByte == nil { summary.timeToFirstByte = elapsed }
            return summary
        }
        reportRefusal(summary)
    }

    /// A refusal reaches the sinks once, before the client can have read the response (so an
    /// admin read that follows it counts it), or at `finish` when no head was written.
    private func reportRefusal(_ summary: Summary) {
        guard summary.refused != nil,
            refusalReported.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        sink?.refused(summary)
    }

    /// The response is over (complete, aborted or the client left): reported once, now or, when
    /// held (`holdReport`), at `releaseReport`.
    func finish(aborted: Bool = false) {
        let elapsed = started.duration(to: .now)
        let (first, reportNow) = ending.withLock { ending -> (Bool, Bool) in
            guard !ending.finished else { return (false, false) }
            ending.finished = true
            return (true, !ending.held)
        }
        guard first else { return }
        let summary = state.withLock { summary -> Summary in
            summary.duration = elapsed
            if aborted { summary.aborted = true }
            return summary
        }
        guard reportNow else { return }
        reportRefusal(summary)
        sink?.finished(summary)
    }

    /// The charge comes after the response may end (a stream's leader whose client left while
    /// a follower keeps the call going): `finish` notes how the response ended, and the sinks
    /// hear of it at `releaseReport`, with the charge.
    func holdReport() { ending.withLock { $0.held = true } }

    /// Reports a held record whose response already ended (else `finish` will).
    func releaseReport() {
        let reportNow = ending.withLock { ending -> Bool in
            guard ending.held else { return false }
            ending.held = false
            return ending.finished
        }
        guard reportNow else { return }
        let summary = state.withLock { $0 }
        reportRefusal(summary)
        sink?.finished(summary)
    }
}

/// Where finished requests go: the access log and the metrics.
package protocol TelemetrySink: Sendable {
    func finished(_ summary: RequestRecord.Summary)
    /// A refused request, as its response starts (before `finished`); at most once per request.
    func refused(_ summary: RequestRecord.Summary)
}

extension TelemetrySink {
    package func refused(_ summary: RequestRecord.Summary) {}
}

extension RequestRecord.Summary {
    /// `rate_limit` or `budget` when admission refused the call (the access log's `rejected_by`).
    package var rejectedBy: String? {
        guard let refused, refused == .rateLimit || refused == .budget else { return nil }
        return refused.rawValue
    }
}

extension Endpoint {
    /// The endpoint's label in logs and metrics (a closed set).
    var label: String {
        switch self {
        case .health, .ready: "health"
        case .adminUsage, .adminBudgets, .adminRoutes, .adminDashboard: "admin"
        case .dashboard: "dashboard"
        case .metrics: "metrics"
        case .listModels, .nativeListModels, .model, .nativeModel: "models"
        case .chatCompletions: "chat"
        case .responses, .storedResponse: "responses"
        case .embeddings: "embeddings"
        case .cachedContents: "cached_contents"
        case .native(_, let method):
            switch method {
            case .generateContent: "generate"
            case .streamGenerateContent: "stream"
            case .countTokens: "count_tokens"
            case .embedContent, .batchEmbedContents: "embed"
            }
        case .notFound, .methodNotAllowed: "other"
        }
    }
}

extension RequestRecord {
    /// The retry owner's attempts, the route that answered, and how long until its answer started.
    func note(_ outcome: UpstreamOutcome, since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: .now)
        update { record in
            record.attempts = outcome.attempts
            if case .success(let answer) = outcome.answer {
                record.route = answer.target.route.name
                record.upstreamWireTime = answer.wireTime
            } else if let last = outcome.attempts.last {
                record.route = last.route
            }
            if !outcome.attempts.isEmpty { record.upstreamTime = elapsed }
        }
    }
}

extension RequestRecord.Summary {
    mutating func note(_ usage: TokenUsage) {
        promptTokens = usage.promptTokens
        outputTokens = usage.completionTokens
        thoughtsTokens = usage.thoughtsTokens
        cachedTokens = usage.cachedTokens
    }
}
