internal import CCurl
import FlashgateCore

/// Turns a libcurl result into the one error type. Messages name the host and what went wrong,
/// never the URL (it may carry a `key=` query), headers or bodies.
enum CurlErrorMapping {
    static func error(for code: CURLcode, host: String) -> FlashgateError {
        let reason = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return FlashgateError(.upstreamTimeout, "upstream \(host) timed out (\(reason))")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return FlashgateError(.upstreamUnreachable, "could not resolve upstream \(host) (\(reason))")
        case CURLE_COULDNT_CONNECT:
            return FlashgateError(.upstreamUnreachable, "could not connect to upstream \(host) (\(reason))")
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR:
            return FlashgateError(.upstreamUnreachable, "connection to upstream \(host) failed (\(reason))")
        case CURLE_PARTIAL_FILE:
            return FlashgateError(.upstreamProtocol, "upstream \(host) ended the response early (\(reason))")
        default:
            return FlashgateError(.upstreamProtocol, "upstream \(host) exchange failed (\(reason))")
        }
    }

    /// The host of a URL for messages, without scheme, userinfo, path or query.
    static func host(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return rest.isEmpty ? "(unknown host)" : String(rest)
    }
}
