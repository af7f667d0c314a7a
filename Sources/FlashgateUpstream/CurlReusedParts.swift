internal import CCurl
import FlashgateCore
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

/// A call's request headers as the `curl_slist` libcurl takes (`CURLOPT_HTTPHEADER`), built once
/// for every call that sends the same headers: Flashgate's calls on a route send the same few
/// (content type, key), and building the list cost each call a string per header and two
/// allocations per line (about 8,000 instructions). libcurl only reads the list, so transfers
/// share it. Freed when the last transfer holding it and the cache have let go.
final class CurlHeaderList {
    let list: UnsafeMutablePointer<curl_slist>
    private let headers: [(name: String, value: String)]

    /// Nil, with the reason, when a header cannot be sent (CR, LF or NUL in it, or no name) or
    /// libcurl cannot take the list.
    static func make(_ headers: [(name: String, value: String)]) -> Result<CurlHeaderList, FlashgateError> {
        // A byte scan: CR, LF and NUL are ASCII, and a header line is never walked by Character.
        let breaksLine: (UInt8) -> Bool = { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") || $0 == 0 }
        var lines: [String] = []
        for header in headers {
            guard !header.name.isEmpty, !header.name.utf8.contains(where: breaksLine),
                !header.value.utf8.contains(where: breaksLine)
            else {
                return .failure(FlashgateError(.internal, "an upstream request header is malformed"))
            }
            // "Name;" is curl's spelling for a header sent with an empty value.
            lines.append(header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)")
        }
        // No "Expect: 100-continue" round trip for large bodies unless the caller asked for it.
        if !headers.contains(where: { ASCIICase.equals($0.name.utf8, "expect") }) { lines.append("Expect:") }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let next = curl_slist_append(list, line) else {
                if let list { curl_slist_free_all(list) }
                return .failure(FlashgateError(.internal, "libcurl could not take the upstream request headers"))
            }
            list = next
        }
        // `lines` always holds at least "Expect:" or the caller's own Expect header.
        return .success(CurlHeaderList(list: list!, headers: headers))
    }

    private init(list: UnsafeMutablePointer<curl_slist>, headers: [(name: String, value: String)]) {
        self.list = list
        self.headers = headers
    }

    deinit { curl_slist_free_all(list) }

    /// Whether this list was built from exactly `headers` (names and values, in order).
    func isBuilt(from headers: [(name: String, value: String)]) -> Bool {
        guard headers.count == self.headers.count else { return false }
        for (a, b) in zip(headers, self.headers) where a.name != b.name || a.value != b.value { return false }
        return true
    }
}

/// A `CURLOPT_CONNECT_TO` list of one entry, `::ADDRESS:`: whatever the URL's host and port, connect
/// to `ADDRESS` on the URL's port. Freed when the transfer lets go of it.
final class CurlConnectTo {
    let list: UnsafeMutablePointer<curl_slist>

    static func make(_ address: NetworkAddress) -> Result<CurlConnectTo, FlashgateError> {
        // libcurl takes an IPv6 literal in brackets.
        let host = address.isIPv4 ? address.description : "[\(address.description)]"
        guard let list = curl_slist_append(nil, "::\(host):") else {
            return .failure(FlashgateError(.internal, "libcurl could not take the address to connect to"))
        }
        return .success(CurlConnectTo(list: list))
    }

    private init(list: UnsafeMutablePointer<curl_slist>) { self.list = list }

    deinit { curl_slist_free_all(list) }
}

/// The curl loop's header lists by their headers (loop thread only): a handful of distinct sets
/// (a route's key, a media fetch), at most `capacity`, emptied when full. A transfer keeps its
/// own reference, so emptying never frees a list a transfer still uses.
final class CurlHeaderLists {
    static let capacity = 64
    private var byHash: [Int: [CurlHeaderList]] = [:]
    private var count = 0

    /// The list for `headers`, built now if it was not known; `reused` says which.
    func list(
        for headers: [(name: String, value: String)]
    ) -> Result<(list: CurlHeaderList, reused: Bool), FlashgateError> {
        var hasher = Hasher()
        hasher.combine(headers.count)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
        let hash = hasher.finalize()
        if let known = byHash[hash]?.first(where: { $0.isBuilt(from: headers) }) { return .success((known, true)) }
        switch CurlHeaderList.make(headers) {
        case .failure(let error):
            return .failure(error)
        case .success(let made):
            if count >= Self.capacity {
                byHash.removeAll(keepingCapacity: true)
                count = 0
            }
            byHash[hash, default: []].append(made)
            count += 1
            return .success((made, false))
        }
    }

    var listCount: Int { count }
}
