internal import CCurl
import FlashgateCore

/// One request's life on the multi loop: its easy handle, the stream it feeds and the flow
/// control shared with the consumer.
///
/// Invariants: the easy handle, header list and every `var` below `flow` are touched only on the
/// loop thread (curl's callbacks run there too). The consumer side touches only `flow`, under its
/// lock, and the event pipe, which is Sendable. `.head` is yielded exactly once, before any body.
final class CurlTransfer: @unchecked Sendable {
    struct Flow {
        var bufferedBytes = 0
        var pauseRequested = false
    }

    let request: UpstreamRequest
    /// Where the transfer goes (`host:port` or `unix:/path`), for log lines only: client-facing
    /// messages never name it. Worked out only when a line needs it (a failure), not per call.
    var host: String {
        // Errors over a Unix socket name the socket: the URL's host is only the Host header then.
        request.unixSocketPath.map { "unix:\($0)" } ?? CurlErrorMapping.host(of: request.url)
    }
    /// libcurl's own account of a failure (`CURLOPT_ERRORBUFFER`, `CURL_ERROR_SIZE` bytes), which
    /// names the address and the system error; for the log.
    let errorBuffer: UnsafeMutablePointer<CChar> = {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: 256)
        buffer.initialize(repeating: 0, count: 256)
        return buffer
    }()
    let pipe: EventPipe<UpstreamEvent>
    /// Where the time from joining the loop to the head goes (`UpstreamResponse.timing`).
    private let timing: UpstreamTiming?
    private let limits: CurlTransport.Configuration
    let stats: CurlTransportStats
    private let flow = LockedState(Flow())

    var easy: UnsafeMutableRawPointer?
    /// The parsed URL and the header list given to `easy` (`CURLOPT_CURLU`, `CURLOPT_HTTPHEADER`),
    /// held until the handle lets go of them (reset or freed).
    var parsedURL: CurlParsedURL?
    var headerList: CurlHeaderList?
    /// The `CURLOPT_CONNECT_TO` list of a request with a `connectAddress`, held like `headerList`.
    var connectTo: CurlConnectTo?
    private var headers: [UpstreamHeader] = []
    private var headSent = false
    /// Events the callbacks of the current loop pass produced, delivered by `flush` or `complete`.
    private var pending: [UpstreamEvent] = []
    /// curl holds this transfer paused because the consumer is behind; idle time does not count.
    var curlPaused = false
    private var startedAt = ContinuousClock.now
    var lastActivity = ContinuousClock.now
    /// When libcurl was first about to send the request (`CURLOPT_PREREQFUNCTION`); it is about
    /// to send again when it resends by itself on a new connection, which it does when a reused
    /// connection died before any byte of an answer.
    private var firstSend: ContinuousClock.Instant?
    /// libcurl was about to send a request with a body a second time and was stopped: the first
    /// may have reached the upstream, and only the retry owner decides on another attempt.
    private(set) var refusedResend = false

    init(
        request: UpstreamRequest, pipe: EventPipe<UpstreamEvent>, timing: UpstreamTiming? = nil,
        limits: CurlTransport.Configuration, stats: CurlTransportStats
    ) {
        self.request = request
        self.pipe = pipe
        self.timing = timing
        self.limits = limits
        self.stats = stats
    }

    deinit { errorBuffer.deallocate() }

    /// Loop thread: what libcurl said about the failure, if anything.
    var curlDetail: String? {
        errorBuffer[0] == 0 ? nil : String(cString: errorBuffer)
    }

    /// Loop thread: the transfer was just attached to the multi handle.
    func markStarted(at now: ContinuousClock.Instant) {
        startedAt = now
        lastActivity = now
    }

    /// Loop thread, from the pre-request callback: whether libcurl may send the request now. Once,
    /// always. Again (libcurl's own resend after a reused connection died under it): a request
    /// without a body (GET, HEAD), which is safe to repeat; one with a body only when the
    /// connection died within `resendWindow` of the first send, as a kept-alive connection the
    /// server had already closed or a refused HTTP/2 stream do (nothing was generated). Later, the
    /// upstream may have been generating, and billing: a resend nobody sees would be an attempt
    /// past `retry.max_attempts` that neither the ledger, the route's statistics nor its breaker
    /// count, so it is refused; the transfer fails as unreachable and the retry owner decides.
    func mayStartSending(now: ContinuousClock.Instant = .now) -> Bool {
        guard let firstSend else {
            firstSend = now
            return true
        }
        if request.isBodiless { return true }
        if now - firstSend < limits.resendWindow {
            stats.resendsCounter.add(1, ordering: .relaxed)
            return true
        }
        refusedResend = true
        stats.resendsRefusedCounter.add(1, ordering: .relaxed)
        return false
    }

    /// Loop thread, from the header callback: one header line, status line or blank line.
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        lastActivity = .now
        guard !headSent else { return }  // trailers after the body are not part of the head
        // Work on bytes: "\r\n" is one Character in Swift, so trimming a String by "\r" misses it;
        // and only a header's name and value become Strings.
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "\r") || bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        if end >= 5, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
            bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/")
        {
            // A new response block: 100-continue, a redirect or a proxy CONNECT. Room for a head's
            // usual fields up front (growing the array one field at a time cost ~1.5k a call).
            headers = []
            headers.reserveCapacity(16)
        } else if end == 0 {
            let status = responseCode()
            if status >= 200 { emitHead(status: status) }
        } else if let colon = bytes[..<end].firstIndex(of: UInt8(ascii: ":")) {
            var start = colon + 1
            var stop = end
            while start < stop, isBlank(bytes[start]) { start += 1 }
            while stop > start, isBlank(bytes[stop - 1]) { stop -= 1 }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<colon]), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
            headers.append(UpstreamHeader(name, value))
        }
    }

    /// Loop thread, from the write callback. Returns the bytes taken or `CURL_WRITEFUNC_PAUSE`,
    /// after which curl keeps the data and delivers it again once resumed.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        guard !bytes.isEmpty else { return 0 }
        let highWater = limits.highWaterBytes
        let buffered: Int? = flow.withLock { flow in
            if flow.bufferedBytes >= highWater {
                flow.pauseRequested = true
                return nil
            }
            flow.bufferedBytes += bytes.count
            return flow.bufferedBytes
        }
        guard let buffered else {
            curlPaused = true
            stats.pausesCounter.add(1, ordering: .relaxed)
            limits.onPause?()
            return Int(CURL_WRITEFUNC_PAUSE)
        }
        stats.noteBuffered(buffered)
        if !headSent { emitHead(status: responseCode()) }
        pending.append(.body(Array(bytes)))
        return bytes.count
    }

    /// Any thread: the consumer took `count` bytes. True when curl should be resumed.
    func consumed(_ count: Int) -> Bool {
        let lowWater = limits.lowWaterBytes
        return flow.withLock { flow in
            flow.bufferedBytes -= count
            guard flow.pauseRequested, flow.bufferedBytes <= lowWater else { return false }
            flow.pauseRequested = false
            return true
        }
    }

    /// Loop thread: ends the stream, successfully when `error` is nil. Needs the easy handle
    /// still alive for the status of a response without a header block.
    func complete(_ error: FlashgateError?) {
        if error == nil, !headSent { emitHead(status: responseCode()) }
        pipe.send(pending, finishing: true, error: error)
        pending = []
    }

    /// Loop thread: whether callbacks gathered events that `flush` has not delivered yet.
    var hasPending: Bool { !pending.isEmpty }

    /// Loop thread, once per pass of the loop: hands the consumer what this pass's callbacks
    /// gathered, in one delivery (one wake-up, not one per header block and body chunk).
    func flush() {
        guard !pending.isEmpty else { return }
        pipe.send(pending)
        pending = []
    }

    /// Loop thread: the timeout that has run out at `now`, if any.
    func expiredTimeout(at now: ContinuousClock.Instant) -> FlashgateError? {
        let timeouts = request.timeouts
        if !headSent, timeouts.firstByte > .zero, now - startedAt >= timeouts.firstByte {
            return FlashgateError(
                .upstreamTimeout, "no response head from the upstream within \(timeouts.firstByte.wholeMilliseconds) ms")
        }
        if headSent, !curlPaused, timeouts.idle > .zero, now - lastActivity >= timeouts.idle {
            return FlashgateError(
                .upstreamTimeout, "the upstream sent no bytes for \(timeouts.idle.wholeMilliseconds) ms")
        }
        return nil
    }

    /// Loop thread: when the loop must look at this transfer again for its own timeouts.
    func nextDeadline() -> ContinuousClock.Instant? {
        let timeouts = request.timeouts
        if !headSent { return timeouts.firstByte > .zero ? startedAt + timeouts.firstByte : nil }
        return !curlPaused && timeouts.idle > .zero ? lastActivity + timeouts.idle : nil
    }

    private func emitHead(status: Int) {
        headSent = true
        timing?.noteHead(after: startedAt.duration(to: .now))
        pending.append(.head(status: status, headers: headers))
        headers = []
    }

    private func responseCode() -> Int {
        guard let easy else { return 0 }
        var code = 0
        // No status to report (0) when libcurl cannot tell it.
        guard ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK else { return 0 }
        return code
    }
}

extension UpstreamRequest {
    /// A GET or HEAD without a body: libcurl may send it again by itself (nothing is generated or
    /// billed by a read).
    var isBodiless: Bool {
        body.isEmpty && (ASCIICase.equals(method.utf8, "get") || ASCIICase.equals(method.utf8, "head"))
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a tiny positive limit never becomes "no limit".
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int(attoseconds % 1_000_000_000_000_000 == 0 ? millis : millis + 1)
    }
}
