import FlashgateCore
import FlashgateWire
import NIOCore
import NIOHTTP1

/// A fully read client request, as the pipeline sees it. The body is complete and within limits.
package struct GatewayRequest: Sendable {
    package var method: HTTPMethod
    /// The path without the query string.
    package var path: String
    package var query: String?
    package var headers: HTTPHeaders
    package var body: ByteBuffer
    package var requestID: String
    /// The client's uid and gid when it connected over the Unix socket (SO_PEERCRED).
    package var peer: PeerCredentials?
    /// What this request did, for the access log and metrics (nil in tests that need neither).
    package var record: RequestRecord?

    package init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: ByteBuffer, requestID: String) {
        self.method = method
        let uri = Self.originForm(uri)
        // A byte search: "?" is ASCII, and a Character search costs several times more.
        if let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(Substring(uri.utf8[..<mark]))
            query = String(Substring(uri.utf8[uri.utf8.index(after: mark)...]))
        } else {
            path = uri
            query = nil
        }
        self.headers = headers
        self.body = body
        self.requestID = requestID
    }

    /// The request target as a path: an absolute-form target (`http://host/path`, which a server
    /// must accept, RFC 9112 §3.2.2) loses its scheme and authority; any other is as it came.
    static func originForm(_ uri: String) -> String {
        guard uri.utf8.first != UInt8(ascii: "/") else { return uri }
        let scheme: StaticString
        if ASCIICase.hasPrefix(uri.utf8, "http://") {
            scheme = "http://"
        } else if ASCIICase.hasPrefix(uri.utf8, "https://") {
            scheme = "https://"
        } else {
            return uri
        }
        let rest = uri.utf8.dropFirst(scheme.utf8CodeUnitCount)
        guard let slash = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else {
            return "/"
        }
        let target = String(Substring(rest[slash...]))
        return target.hasPrefix("?") ? "/" + target : target
    }

    /// The value of one query parameter (no percent-decoding; Gemini's parameters need none).
    package func queryItem(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first.map(String.init) == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }
}

/// Who is at the other end of a Unix socket connection, as the kernel vouches. Laid out like
/// Linux's `struct ucred` (pid, uid, gid), so SO_PEERCRED can fill it directly.
package struct PeerCredentials: Sendable, Equatable {
    package var pid: Int32
    package var uid: UInt32
    package var gid: UInt32

    package init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// A complete response produced without waiting: health, errors, listings.
package struct GatewayResponse: Sendable {
    package var status: HTTPResponseStatus
    package var headers: [(String, String)]
    package var body: [UInt8]

    package init(status: HTTPResponseStatus, headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> GatewayResponse {
        GatewayResponse(status: status, headers: [("content-type", "application/json")], body: JSONWriter.encode(value))
    }

    package static func error(_ error: FlashgateError, dialect: Dialect) -> GatewayResponse {
        GatewayResponse(
            status: HTTPResponseStatus(statusCode: error.httpStatus),
            headers: [("content-type", "application/json")] + error.responseHeaders,
            body: dialect == .openAI ? error.openAIBody() : error.googleBody())
    }
}

/// The pipeline's answer: ready now (written on the event loop), or produced by async work
/// that writes through a `ResponseWriter`.
package enum GatewayResult: Sendable {
    case immediate(GatewayResponse)
    case deferred(@Sendable (ResponseWriter) async -> Void)
}
