internal import CCurl
import FlashgateCore

/// Turns a libcurl result into the one error type. Its message reaches clients, so it says what
/// went wrong in libcurl's generic words (`curl_easy_strerror`) and never where: not the host or
/// port (those go to the log, see `CurlMultiLoop`), nor the URL (it may carry a `key=` query),
/// headers or bodies.
enum CurlErrorMapping {
    static func error(for code: CURLcode) -> FlashgateError {
        let reason = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return FlashgateError(.upstreamTimeout, "the upstream timed out (\(reason))")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            var error = FlashgateError(.upstreamUnreachable, "could not resolve the upstream's host name (\(reason))")
            error.neverSent = true
            return error
        case CURLE_COULDNT_CONNECT:
            var error = FlashgateError(.upstreamUnreachable, "could not connect to the upstream (\(reason))")
            error.neverSent = true
            return error
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR:
            return FlashgateError(.upstreamUnreachable, "the connection to the upstream failed (\(reason))")
        case CURLE_PARTIAL_FILE:
            return FlashgateError(.upstreamProtocol, "the upstream ended the response early (\(reason))")
        default:
            return FlashgateError(.upstreamProtocol, "the exchange with the upstream failed (\(reason))")
        }
    }

    /// A reused connection died under a request with a body before any byte of an answer, and
    /// libcurl's own resend on a new connection was stopped (`CurlTransfer.mayStartSending`).
    /// Unreachable, so the retry owner retries it like any broken connection; it was sent, so
    /// it is not `neverSent`.
    static var resendRefused: FlashgateError {
        FlashgateError(
            .upstreamUnreachable, "the connection to the upstream closed before it answered (a reused connection)")
    }

    /// The host (and port) of a URL for log lines, without scheme, userinfo, path or query.
    static func host(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return rest.isEmpty ? "(unknown host)" : String(rest)
    }
}
