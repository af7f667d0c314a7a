internal import CCurl
import FlashgateCore

/// Builds the easy handle for a transfer. Kept apart from the transfer's state so the option set
/// (HTTP/2, keep-alive, TLS, timeouts, body) reads in one place.
extension CurlTransfer {
    /// Loop thread only. On success `easy` is set and owned by the loop, which frees or resets it
    /// when it removes the transfer; on failure it is already freed.
    /// - Parameter spare: a handle an earlier transfer left, already `curl_easy_reset` (every
    ///   option back to its default); nil creates one.
    /// - Parameter parsedURLs: the loop's parsed URLs (nil: libcurl parses the URL itself).
    /// - Parameter headerLists: the loop's header lists (nil: this call builds its own).
    /// - Parameter noProxy: no proxy variable is set in the environment (`CurlProxyEnvironment`).
    func makeEasyHandle(
        reusing spare: UnsafeMutableRawPointer? = nil, parsedURLs: CurlParsedURLs? = nil,
        headerLists: CurlHeaderLists? = nil, noProxy: Bool = false
    ) throws(FlashgateError) -> UnsafeMutableRawPointer {
        guard let handle = spare ?? curl_easy_init() else {
            throw FlashgateError(.internal, "libcurl could not create a handle for the upstream call")
        }
        easy = handle
        do throws(FlashgateError) {
            try configure(handle, parsedURLs: parsedURLs, headerLists: headerLists, noProxy: noProxy)
        } catch {
            releaseEasyHandle()
            throw error
        }
        return handle
    }

    /// Loop thread only: frees the handle and header list (after removal from the multi handle).
    func releaseEasyHandle() {
        if let handle = detachEasyHandle() { curl_easy_cleanup(handle) }
        letGoOfSharedParts()
    }

    /// After the handle was reset or freed: the parsed URL and header list it pointed to.
    func letGoOfSharedParts() {
        parsedURL = nil
        headerList = nil
        connectTo = nil
    }

    /// Loop thread only, after removal from the multi handle: hands the handle over to the caller
    /// (to reset and keep, or to free); nil when there is none. The parsed URL and header list
    /// the handle points to stay held until the caller has reset or freed it
    /// (`letGoOfSharedParts` after that).
    func detachEasyHandle() -> UnsafeMutableRawPointer? {
        defer { easy = nil }
        return easy
    }

    private func configure(
        _ h: UnsafeMutableRawPointer, parsedURLs: CurlParsedURLs?, headerLists: CurlHeaderLists?, noProxy: Bool
    ) throws(FlashgateError) {
        guard ccurl_setopt_str(h, CURLOPT_URL, request.url) == CURLE_OK else {
            throw FlashgateError(.internal, "libcurl rejected the upstream URL")
        }
        // The same URL, parsed once for every call to it: libcurl takes CURLOPT_CURLU over the
        // string and copies its parts instead of parsing and reprinting the URL per call.
        if let (parsed, reused) = parsedURLs?.parsed(request.url) {
            try CurlCheck.easy(ccurl_setopt_ptr(h, CURLOPT_CURLU, UnsafeMutableRawPointer(parsed.handle)), "CURLOPT_CURLU")
            parsedURL = parsed
            if reused { stats.reusedURLsCounter.add(1, ordering: .relaxed) }
        }
        if noProxy {
            // What libcurl would find in the environment, said up front (no lookups per call).
            try CurlCheck.easy(ccurl_setopt_str(h, CURLOPT_PROXY, ""), "CURLOPT_PROXY")
            try CurlCheck.easy(ccurl_setopt_str(h, CURLOPT_NOPROXY, ""), "CURLOPT_NOPROXY")
        }
        try CurlCheck.easy(ccurl_setopt_str(h, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR")
        // A Unix socket replaces the TCP connection only; libcurl keys its connection cache on
        // the path too, so such connections are never reused for TCP requests or vice versa.
        if let path = request.unixSocketPath {
            guard ccurl_setopt_str(h, CURLOPT_UNIX_SOCKET_PATH, path) == CURLE_OK else {
                throw FlashgateError(.internal, "libcurl rejected the upstream's Unix socket path")
            }
        }
        if let address = request.connectAddress {
            let list = try CurlConnectTo.make(address).get()
            connectTo = list
            try CurlCheck.easy(ccurl_setopt_slist(h, CURLOPT_CONNECT_TO, list.list), "CURLOPT_CONNECT_TO")
        }
        try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try CurlCheck.easy(ccurl_setopt_ptr(h, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        // HTTP/2 over TLS when the server offers it, HTTP/1.1 keep-alive otherwise.
        try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS), "CURLOPT_HTTP_VERSION")
        // Waiting to multiplex only makes sense where HTTP/2 can be negotiated (TLS): on plain
        // HTTP/1.1 it would queue concurrent requests behind one busy connection.
        if Self.isHTTPS(request.url) {
            try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_PIPEWAIT, 1), "CURLOPT_PIPEWAIT")
        }
        try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1), "CURLOPT_TCP_KEEPALIVE")
        try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1), "CURLOPT_SSL_VERIFYPEER")
        try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2), "CURLOPT_SSL_VERIFYHOST")
        try CurlCheck.easy(
            ccurl_setopt_long(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1), "CURLOPT_SUPPRESS_CONNECT_HEADERS")
        // Every decoding libcurl has, decoded.
        try CurlCheck.easy(ccurl_setopt_str(h, CURLOPT_ACCEPT_ENCODING, ""), "CURLOPT_ACCEPT_ENCODING")
        try CurlCheck.easy(
            ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, request.timeouts.connect.wholeMilliseconds),
            "CURLOPT_CONNECTTIMEOUT_MS")
        try CurlCheck.easy(
            ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, request.timeouts.total.wholeMilliseconds), "CURLOPT_TIMEOUT_MS")
        try configureMethodAndBody(h)
        try configureHeaders(h, headerLists: headerLists)
        let me = Unmanaged.passUnretained(self).toOpaque()
        try CurlCheck.easy(ccurl_setopt_ptr(h, CURLOPT_HEADERDATA, me), "CURLOPT_HEADERDATA")
        try CurlCheck.easy(ccurl_setopt_ptr(h, CURLOPT_WRITEDATA, me), "CURLOPT_WRITEDATA")
        let headerCallback = ccurl_setopt_header_cb(h) { data, size, count, userdata in
            guard let data, let userdata else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        try CurlCheck.easy(headerCallback, "CURLOPT_HEADERFUNCTION")
        let writeCallback = ccurl_setopt_write_cb(h) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
        }
        try CurlCheck.easy(writeCallback, "CURLOPT_WRITEFUNCTION")
        if !request.isBodiless {
            try CurlCheck.easy(ccurl_setopt_ptr(h, CURLOPT_PREREQDATA, me), "CURLOPT_PREREQDATA")
            let prereqCallback = ccurl_setopt_prereq_cb(h) { userdata, _, _, _, _ in
                guard let userdata else { return Int32(CURL_PREREQFUNC_OK) }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
                return transfer.mayStartSending() ? Int32(CURL_PREREQFUNC_OK) : Int32(CURL_PREREQFUNC_ABORT)
            }
            try CurlCheck.easy(prereqCallback, "CURLOPT_PREREQFUNCTION")
        }
    }

    /// Whether `url` starts with `https://` in any case, read as bytes (no lowercased copy).
    static func isHTTPS(_ url: String) -> Bool {
        ASCIICase.hasPrefix(url.utf8, "https://")
    }

    private func configureMethodAndBody(_ h: UnsafeMutableRawPointer) throws(FlashgateError) {
        // Flashgate's own calls name their method in capitals; anything else is upper-cased first.
        let method = ["POST", "GET", "HEAD"].contains(request.method) ? request.method : request.method.uppercased()
        switch method {
        case "GET":
            try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_HTTPGET, 1), "CURLOPT_HTTPGET")
            if !request.body.isEmpty {
                try setBody(h)
                try CurlCheck.easy(ccurl_setopt_str(h, CURLOPT_CUSTOMREQUEST, "GET"), "CURLOPT_CUSTOMREQUEST")
            }
        case "HEAD":
            try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_NOBODY, 1), "CURLOPT_NOBODY")
        case "POST":
            try CurlCheck.easy(ccurl_setopt_long(h, CURLOPT_POST, 1), "CURLOPT_POST")
            try setBody(h)
        default:
            guard request.method.allSatisfy({ $0.isLetter }) else {
                throw FlashgateError(.internal, "invalid HTTP method for the upstream call")
            }
            if !request.body.isEmpty { try setBody(h) }
            try CurlCheck.easy(
                ccurl_setopt_str(h, CURLOPT_CUSTOMREQUEST, request.method.uppercased()), "CURLOPT_CUSTOMREQUEST")
        }
    }

    /// Copies the body with its exact size, so binary bodies with NUL bytes go out whole.
    private func setBody(_ h: UnsafeMutableRawPointer) throws(FlashgateError) {
        try CurlCheck.easy(
            ccurl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)), "CURLOPT_POSTFIELDSIZE_LARGE")
        let code: CURLcode =
            request.body.isEmpty
            ? ccurl_setopt_str(h, CURLOPT_COPYPOSTFIELDS, "")
            : request.body.withUnsafeBytes {
                ccurl_setopt_ptr(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
            }
        guard code == CURLE_OK else {
            throw FlashgateError(.internal, "libcurl could not take the upstream request body")
        }
    }

    /// The request's headers, plus "Expect:" (no 100-continue round trip) unless it has its own;
    /// a list already built for the same headers when the loop has one.
    private func configureHeaders(_ h: UnsafeMutableRawPointer, headerLists: CurlHeaderLists?) throws(FlashgateError) {
        let built: CurlHeaderList
        if let headerLists {
            let (list, reused) = try headerLists.list(for: request.headers).get()
            if reused { stats.reusedHeaderListsCounter.add(1, ordering: .relaxed) }
            built = list
        } else {
            built = try CurlHeaderList.make(request.headers).get()
        }
        headerList = built
        try CurlCheck.easy(ccurl_setopt_slist(h, CURLOPT_HTTPHEADER, built.list), "CURLOPT_HTTPHEADER")
    }
}
