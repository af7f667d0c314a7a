/// The one error type of Flashgate. It knows its HTTP status, whether an upstream retry could
/// help, a bounded label for metrics, and how to render itself in both wire dialects. It is
/// rendered once, at the edge, in the dialect the caller spoke.
package struct FlashgateError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable, CaseIterable {
        case invalidRequest = "invalid_request"
        case unauthorized
        case forbidden
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case payloadTooLarge = "payload_too_large"
        case headersTooLarge = "headers_too_large"
        /// An `Expect` header Flashgate cannot meet (anything but `100-continue`).
        case expectationFailed = "expectation_failed"
        case requestTimeout = "request_timeout"
        case rateLimited = "rate_limited"
        /// A budget is spent for its period: no retry can succeed before it resets.
        case quotaExhausted = "insufficient_quota"
        case upstreamStatus = "upstream_status"
        case upstreamUnreachable = "upstream_unreachable"
        case upstreamTimeout = "upstream_timeout"
        case upstreamProtocol = "upstream_protocol"
        case unavailable
        case `internal`
    }

    package var kind: Kind
    package var message: String
    /// The request field at fault, for OpenAI's `param`.
    package var param: String?
    /// The status an upstream answered with, for `.upstreamStatus`.
    package var upstreamStatus: Int?
    /// The upstream's own error body, passed through on native routes.
    package var upstreamBody: [UInt8]?
    /// `google.rpc` detail objects for the native envelope's `details` (e.g. a `QuotaFailure`).
    package var googleDetails: [JSONValue] = []
    /// OpenAI's `error.code` when it says more than the kind (`ledger_full`).
    package var code: String?
    /// How long until trying again can succeed (a refill, a budget reset): `Retry-After` in whole
    /// seconds, rounded up.
    package var retryAfter: Duration?
    /// Headers of the refusal's own (`x-should-retry`, the budget left and when it resets),
    /// rendered after `Retry-After`.
    package var headers: [Header] = []
    /// The request never left Flashgate (the upstream's name did not resolve, or it refused the
    /// connection): nothing can have been billed for it.
    package var neverSent = false

    /// A response header an error carries to the edge.
    package struct Header: Sendable, Equatable {
        package var name: String
        package var value: String

        package init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    package init(
        _ kind: Kind, _ message: String, param: String? = nil, upstreamStatus: Int? = nil,
        upstreamBody: [UInt8]? = nil
    ) {
        self.kind = kind
        self.message = message
        self.param = param
        self.upstreamStatus = upstreamStatus
        self.upstreamBody = upstreamBody
    }

    /// A paid call's reservation could not be made durable: it is refused before going upstream.
    package static var reservationNotRecorded: FlashgateError {
        FlashgateError(.unavailable, "the usage ledger could not record the reservation")
    }

    package static func invalid(_ message: String, param: String? = nil) -> FlashgateError {
        FlashgateError(.invalidRequest, message, param: param)
    }

    /// Anything thrown below, as the one error type: a `FlashgateError` as it is, anything else an
    /// internal error that names no detail.
    package init(wrapping error: any Error) {
        if let error = error as? FlashgateError {
            self = error
        } else {
            self.init(.internal, "internal error while calling the upstream")
        }
    }

    package var description: String { "\(kind.rawValue): \(message)" }

    /// `Retry-After` (whole seconds, at least 1) then the error's own headers.
    package var responseHeaders: [(String, String)] {
        var all: [(String, String)] = []
        if let retryAfter { all.append(("retry-after", String(Self.seconds(retryAfter)))) }
        return all + headers.map { ($0.name, $0.value) }
    }

    /// A wait in whole seconds, rounded up, never 0.
    package static func seconds(_ duration: Duration) -> Int64 {
        max(1, Int64((Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18).rounded(.up)))
    }

    /// A label from a closed set, safe for metrics.
    package var metricLabel: String { kind.rawValue }

    package var httpStatus: Int {
        switch kind {
        case .invalidRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .requestTimeout: 408
        case .payloadTooLarge: 413
        case .headersTooLarge: 431
        case .expectationFailed: 417
        case .rateLimited, .quotaExhausted: 429
        case .upstreamStatus: upstreamStatus ?? 502
        case .upstreamUnreachable, .upstreamProtocol: 502
        case .upstreamTimeout: 504
        case .unavailable: 503
        case .internal: 500
        }
    }

    /// Whether trying the upstream again may succeed.
    package var isRetryable: Bool {
        switch kind {
        case .upstreamUnreachable, .upstreamTimeout: true
        case .upstreamStatus: [408, 429, 500, 502, 503, 504].contains(httpStatus)
        default: false
        }
    }

    /// OpenAI's `error.type`. A spent budget is `insufficient_quota`, which the openai SDKs
    /// treat as final rather than as a rate limit to wait out.
    package var openAIType: String {
        if kind == .quotaExhausted { return "insufficient_quota" }
        return switch httpStatus {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        default: "api_error"
        }
    }

    /// Google's `error.status` (a `google.rpc.Code` name).
    package var googleStatus: String {
        switch httpStatus {
        case 400, 413, 431: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 405: "UNIMPLEMENTED"
        case 408, 504: "DEADLINE_EXCEEDED"
        case 409: "ABORTED"
        case 429: "RESOURCE_EXHAUSTED"
        case 501: "UNIMPLEMENTED"
        case 503, 502: "UNAVAILABLE"
        default: httpStatus >= 500 ? "INTERNAL" : "FAILED_PRECONDITION"
        }
    }

    /// `{"error":{"message","type","param","code"}}`
    package func openAIBody() -> [UInt8] {
        let error: JSONValue = [
            "message": .string(message),
            "type": .string(openAIType),
            "param": param.map { .string($0) } ?? .null,
            "code": .string(code ?? kind.rawValue),
        ]
        return JSONWriter.encode(["error": error])
    }

    /// `{"error":{"code","message","status"}}`, or the upstream's own body when it sent one.
    package func googleBody() -> [UInt8] {
        if let upstreamBody, (try? JSONParser.parse(upstreamBody))?["error"] != nil { return upstreamBody }
        var error: JSONObject = [
            "code": JSONValue(httpStatus),
            "message": .string(message),
            "status": .string(googleStatus),
        ]
        if !googleDetails.isEmpty { error["details"] = .array(googleDetails) }
        return JSONWriter.encode(["error": .object(error)])
    }

    /// Builds the error for an upstream answer with a non-2xx status, keeping its message.
    package static func fromUpstream(status: Int, body: [UInt8]) -> FlashgateError {
        var message = "upstream answered HTTP \(status)"
        if let parsed = try? JSONParser.parse(body) {
            if let text = parsed["error"]?["message"]?.stringValue {
                message = text
            } else if let first = parsed.arrayValue?.first, let text = first["error"]?["message"]?.stringValue {
                message = text
            }
        }
        return FlashgateError(.upstreamStatus, message, upstreamStatus: status, upstreamBody: body)
    }
}
