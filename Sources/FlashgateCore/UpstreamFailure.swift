/// What one failed upstream attempt tells the retry loop: whether trying again can help, how long
/// the upstream asked us to wait, and whether the failure is a per-day quota that no amount of
/// waiting on this route will fix.
///
/// It is built once per failed attempt from what the transport saw (status, Google error body,
/// `Retry-After`) and nothing else, so the retry loop and the circuit breakers decide from the same
/// facts. Gemini puts its retry delay in the body (`google.rpc.RetryInfo.retryDelay`) and sends no
/// `Retry-After`; OpenAI-compatible backups may send the header instead. When both are present the
/// longer one wins, so we never come back earlier than either asked.
package struct UpstreamFailure: Sendable, Equatable {
    package enum Cause: Sendable, Equatable {
        /// The upstream answered with this HTTP status.
        case status(Int)
        /// The answer was a safety block (`promptFeedback.blockReason`): the same prompt is blocked again.
        case safetyBlock
        /// No connection could be made, or it broke before an answer.
        case unreachable
        /// The attempt ran out of time.
        case timeout
        /// The upstream closed, cut off or garbled its answer before its first event (an empty
        /// stream, a connection closed before the head, a body that is not JSON): nothing has
        /// reached a client, so another attempt can serve it, as after a broken connection.
        case noAnswer
    }

    /// Statuses worth a second attempt.
    package static let retryableStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]

    package var cause: Cause
    package var isRetryable: Bool
    /// The least time the upstream asked us to wait before trying again.
    package var retryDelay: Duration?
    /// A `QuotaFailure` named a per-day quota: this route will not recover soon, move on.
    package var perDayQuota: Bool

    package init(cause: Cause, isRetryable: Bool, retryDelay: Duration? = nil, perDayQuota: Bool = false) {
        self.cause = cause
        self.isRetryable = isRetryable
        self.retryDelay = retryDelay
        self.perDayQuota = perDayQuota
    }

    package static let unreachable = UpstreamFailure(cause: .unreachable, isRetryable: true)
    package static let timeout = UpstreamFailure(cause: .timeout, isRetryable: true)
    package static let noAnswer = UpstreamFailure(cause: .noAnswer, isRetryable: true)

    /// Classifies an upstream answer.
    /// - Parameters:
    ///   - retryAfter: the raw `Retry-After` header value, if any.
    ///   - nowUnixSeconds: the injected wall-clock time, to turn an HTTP-date `Retry-After` into a delay.
    package init(status: Int, body: some Collection<UInt8>, retryAfter: String? = nil, nowUnixSeconds: Int64 = 0) {
        let error = Self.errorObject(body)
        if error == nil, let parsed = try? JSONParser.parse(body), parsed["promptFeedback"]?["blockReason"] != nil {
            self.init(cause: .safetyBlock, isRetryable: false)
            return
        }
        let details = error?["details"]?.arrayValue ?? []
        let bodyDelay = details.lazy.filter { Self.isType($0, "RetryInfo") }
            .compactMap { $0["retryDelay"]?.stringValue.flatMap(Self.parseProtobufDuration) }.first
        let headerDelay = retryAfter.flatMap { Self.parseRetryAfter($0, nowUnixSeconds: nowUnixSeconds) }
        let delay: Duration? =
            switch (bodyDelay, headerDelay) {
            case (let b?, let h?): max(b, h)
            case (let b, let h): b ?? h
            }
        let perDay = details.contains { detail in
            Self.isType(detail, "QuotaFailure")
                && (detail["violations"]?.arrayValue ?? []).contains { violation in
                    [violation["quotaId"], violation["quotaMetric"]].contains { Self.namesPerDay($0?.stringValue) }
                }
        }
        self.init(
            cause: .status(status), isRetryable: Self.retryableStatuses.contains(status), retryDelay: delay,
            perDayQuota: perDay)
    }

    /// Classifies a Flashgate error raised on the upstream path.
    package init(_ error: FlashgateError, retryAfter: String? = nil, nowUnixSeconds: Int64 = 0) {
        switch error.kind {
        case .upstreamUnreachable: self = .unreachable
        case .upstreamTimeout: self = .timeout
        case .upstreamProtocol: self = .noAnswer
        case .upstreamStatus:
            self.init(
                status: error.httpStatus, body: error.upstreamBody ?? [], retryAfter: retryAfter,
                nowUnixSeconds: nowUnixSeconds)
        default: self.init(cause: .status(error.httpStatus), isRetryable: false)
        }
    }

    /// `{"error":{…}}`, or the first element's error when Google wraps it in an array (streaming).
    private static func errorObject(_ body: some Collection<UInt8>) -> JSONValue? {
        guard !body.isEmpty, let parsed = try? JSONParser.parse(body) else { return nil }
        return parsed["error"] ?? parsed.arrayValue?.first?["error"]
    }

    private static func isType(_ detail: JSONValue, _ name: String) -> Bool {
        detail["@type"]?.stringValue?.hasSuffix("google.rpc.\(name)") ?? false
    }

    /// `GenerateRequestsPerDayPerProjectPerModel`, `…_requests_per_day`, `per-day` all count.
    private static func namesPerDay(_ text: String?) -> Bool {
        guard let text else { return false }
        return text.lowercased().filter { $0 != "_" && $0 != "-" }.contains("perday")
    }
}
