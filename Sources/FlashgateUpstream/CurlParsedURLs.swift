internal import CCurl
import Foundation

/// A URL libcurl has parsed (a `CURLU` handle), given to a transfer with `CURLOPT_CURLU` beside
/// its `CURLOPT_URL`. libcurl then copies the parsed parts for the connection instead of parsing
/// the string again and printing it back out in normalised form, which it does on every call
/// otherwise (about 15,000 instructions a call, most of it its `printf`). Freed when the last
/// transfer holding it and the cache have let go.
final class CurlParsedURL {
    let handle: OpaquePointer

    /// Nil when libcurl does not parse `url` (the transfer then passes the string alone, and
    /// libcurl reports what is wrong with it as before).
    init?(_ url: String) {
        guard let handle = curl_url() else { return nil }
        // The flags libcurl itself parses `CURLOPT_URL` with.
        let flags = UInt32(CURLU_GUESS_SCHEME) | UInt32(CURLU_NON_SUPPORT_SCHEME)
        guard curl_url_set(handle, CURLUPART_URL, url, flags) == CURLUE_OK else {
            curl_url_cleanup(handle)
            return nil
        }
        self.handle = handle
    }

    deinit { curl_url_cleanup(handle) }

    /// The URL as libcurl prints it back from the parsed parts (for tests).
    var text: String? {
        var out: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, CURLUPART_URL, &out, 0) == CURLUE_OK, let out else { return nil }
        defer { curl_free(out) }
        return String(cString: out)
    }
}

/// The curl loop's parsed URLs by their text (loop thread only). Flashgate calls a handful of
/// URLs (a route, a model, a method), so this stays small; at `capacity` entries it is emptied
/// and fills again. A transfer keeps its own reference, so emptying never frees a handle a
/// transfer still uses.
final class CurlParsedURLs {
    static let capacity = 256
    private var byURL: [String: CurlParsedURL] = [:]

    /// The parsed `url`, parsed now if it was not known; `reused` says which.
    func parsed(_ url: String) -> (url: CurlParsedURL, reused: Bool)? {
        if let known = byURL[url] { return (known, true) }
        guard let parsed = CurlParsedURL(url) else { return nil }
        if byURL.count >= Self.capacity { byURL.removeAll(keepingCapacity: true) }
        byURL[url] = parsed
        return (parsed, false)
    }

    var count: Int { byURL.count }
}

/// Whether the environment names a proxy libcurl would use for an HTTP(S) call (its
/// `*_proxy` variables, as libcurl reads them). When none is set, each call tells libcurl there is
/// no proxy (`CURLOPT_PROXY` and `CURLOPT_NOPROXY` empty), which is what it would find, and it skips
/// looking through the environment for five variables on every call. Read once, when the loop starts.
enum CurlProxyEnvironment {
    /// libcurl reads these five (never `HTTP_PROXY`); that one is counted too, should a libcurl read it.
    static let variables = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]

    static func namesProxy(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        variables.contains { !(environment[$0] ?? "").isEmpty }
    }
}
