import FlashgateCore
import FlashgateWire

extension RetryOwner {
    enum AttemptResult: Sendable {
        case started(StartedAnswer, AttemptRecord)
        case failed(FlashgateError, UpstreamFailure, AttemptRecord, keyIndex: Int?)

        var record: AttemptRecord {
            switch self {
            case .started(_, let record), .failed(_, _, let record, _): record
            }
        }
    }

    /// One upstream call on one route, up to its first event (or its head).
    func attempt(_ target: ResolvedRoute, _ call: UpstreamCall, hedge: Bool) async -> AttemptResult {
        let began = clock.now()
        // A call on a context cache uses the key that owns the cache.
        let keyIndex = call.contextCache?.key(for: target) ?? routes.keys(target.route.name)?.current(now: began)
        func failed(
            _ error: FlashgateError, _ failure: UpstreamFailure, _ outcome: AttemptRecord.Outcome
        ) -> AttemptResult {
            var record = AttemptRecord(
                route: target.route.name, outcome: outcome, duration: began.duration(to: clock.now()), hedge: hedge)
            // Refused a connection (or no such host): the request never left, nothing to pay.
            if error.neverSent { record.sent = false }
            health.record(record)
            return .failed(error, failure, record, keyIndex: keyIndex)
        }
        /// Cancelled before the request went to the transport: nothing left, nothing to pay (a
        /// hedge cancelled as the first attempt won while it was being admitted).
        func notSent() -> AttemptResult {
            var record = AttemptRecord(
                route: target.route.name, outcome: .cancelled, duration: began.duration(to: clock.now()), hedge: hedge)
            record.sent = false
            return .failed(Self.cancelled, UpstreamFailure(Self.cancelled), record, keyIndex: keyIndex)
        }
        if Task.isCancelled { return notSent() }
        do {
            let request = try await routes.request(
                target, method: call.method, sse: call.sse, body: call.bodyOnCache(target), keyIndex: keyIndex ?? 0)
            let framing = routes.framing(target, method: call.method, sse: call.sse)
            if Task.isCancelled { return notSent() }
            let response = target.transport.send(request)
            var iterator = response.makeAsyncIterator()
            guard case .head(let status, let headers) = try await iterator.next() else {
                throw FlashgateError(.upstreamProtocol, "the upstream closed the connection without answering")
            }
            guard (200..<300).contains(status) else {
                var body: [UInt8] = []
                while case .body(let bytes) = try await iterator.next() {
                    if body.count < Self.maxErrorBody { body += bytes.prefix(Self.maxErrorBody - body.count) }
                }
                if target.route.kind == .openai { body = OpenAIUpstream.geminiError(status: status, body: body) }
                if status == 401, let source = routes.tokenSource(target.route.name) { await source.invalidate() }
                let retryAfter = headers.value(of: "retry-after")
                var failure = UpstreamFailure(
                    status: status, body: body, retryAfter: retryAfter, nowUnixSeconds: wallSeconds())
                // An OAuth token can expire or be revoked between minting and use: one more try.
                if status == 401, routes.tokenSource(target.route.name) != nil { failure.isRetryable = true }
                return failed(.fromUpstream(status: status, body: body), failure, .status(status))
            }
            let reader = AnswerReader(iterator: iterator, framing: framing)
            var first: JSONValue?
            if call.start == .firstEvent {
                guard let event = try await reader.next() else {
                    throw FlashgateError(.upstreamProtocol, "the upstream ended without sending an answer")
                }
                first = event
            }
            let record = AttemptRecord(
                route: target.route.name, outcome: .answered, duration: began.duration(to: clock.now()), hedge: hedge)
            health.record(record)
            return .started(
                StartedAnswer(
                    target: target, status: status, headers: headers, reader: reader, first: first,
                    wireTime: response.timing?.toHead),
                record)
        } catch let error as FlashgateError {
            if Task.isCancelled { return failed(Self.cancelled, UpstreamFailure(error), .cancelled) }
            let failure = UpstreamFailure(error)
            let outcome: AttemptRecord.Outcome =
                switch failure.cause {
                case .unreachable: .unreachable
                case .timeout: .timeout
                case .status(let code): error.kind == .upstreamStatus ? .status(code) : .invalid
                case .safetyBlock, .noAnswer: .invalid
                }
            return failed(error, failure, outcome)
        } catch {
            let cancelled = Task.isCancelled || error is CancellationError
            return failed(
                cancelled ? Self.cancelled : FlashgateError(wrapping: error), .unreachable,
                cancelled ? .cancelled : .unreachable)
        }
    }

    /// The most of an error body kept (for its message and retry details).
    static let maxErrorBody = 256 * 1024
}
