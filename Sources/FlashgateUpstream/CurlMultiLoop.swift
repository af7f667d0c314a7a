internal import CCurl
import FlashgateCore
import Foundation
import Logging

/// Initialised once, lazily and thread-safely (a global `let` runs through `swift_once`).
private let curlGlobalInitResult: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

/// The one thread that drives libcurl. It alone touches the `CURLM*` and every easy handle;
/// other threads only post commands to the inbox and wake it through an eventfd the loop polls
/// beside curl's sockets (`curl_multi_poll`'s extra descriptor): one `write` to wake and one
/// `read` to reset, where `curl_multi_wakeup`'s socket pair costs a `sendto` and two `recvfrom`s.
/// A post wakes the loop only when the inbox was empty: a command already waiting means a wake
/// is already on its way, and the loop takes every command at once.
///
/// Invariants: `live` and every transfer's curl state are loop-thread only. The eventfd is
/// written only under the inbox lock while `stopping` is false, so it is never written after
/// the loop closes it. The loop resets the eventfd before it takes the inbox, so no wake for a
/// command it has not taken is lost. Every transfer handed to `post(.add)` is completed exactly once. A failed
/// transfer is logged with where it went (host and port, or the socket path) and libcurl's own
/// words, which its error message to the client leaves out. A spare easy handle belongs to no
/// transfer and is always reset: nothing set for one call (URL, headers, body, socket path)
/// reaches the next.
final class CurlMultiLoop: @unchecked Sendable {
    enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
        case resume(CurlTransfer)
    }

    private struct Inbox {
        var commands: [Command] = []
        var stopping = false
    }

    private let multi: UnsafeMutableRawPointer
    /// Readable while a post has woken the loop and it has not yet reset it; closed by `tearDown`.
    private let wakeFD: Int32
    private let inbox = LockedState(Inbox())
    private let exited = NSCondition()
    private var hasExited = false  // guarded by `exited`
    private let stats: CurlTransportStats
    private let logger: Logger
    private var live: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    /// Easy handles finished transfers left, reset and kept for the next ones (loop thread only):
    /// `curl_easy_reset` puts every option back to its default and keeps the allocation, so a
    /// call skips `curl_easy_init` and `curl_easy_cleanup` (about 10k instructions in all). At most
    /// `maxSpareHandles`; the connections themselves live in the multi handle either way.
    private var spareHandles: [UnsafeMutableRawPointer] = []
    private let maxSpareHandles: Int
    /// URLs parsed once for every call to them (loop thread only).
    private let parsedURLs = CurlParsedURLs()
    /// Request header lists built once for every call that sends the same headers (loop thread only).
    private let headerLists = CurlHeaderLists()
    /// No proxy is named in the environment, read once (`CurlProxyEnvironment`).
    private let noProxy = !CurlProxyEnvironment.namesProxy()

    /// `maxConnections` caps the open connections (`CURLMOPT_MAX_TOTAL_CONNECTIONS`; a transfer
    /// beyond it waits for one to be free) and the idle ones kept for reuse
    /// (`CURLMOPT_MAXCONNECTS`) alike, so every connection concurrent calls opened can be reused
    /// by the next ones.
    /// Throws (a startup error, never a crash) when libcurl cannot be initialised or refuses
    /// an option.
    init(maxConnections: Int, stats: CurlTransportStats, logger: Logger) throws(FlashgateError) {
        try CurlCheck.easy(curlGlobalInitResult, "curl_global_init")
        guard let multi = curl_multi_init() else { throw FlashgateError(.internal, "libcurl curl_multi_init failed") }
        let wakeFD = ccurl_wake_fd_create()
        guard wakeFD >= 0 else {
            curl_multi_cleanup(multi)
            throw FlashgateError(.internal, "could not create the eventfd that wakes the libcurl thread")
        }
        do throws(FlashgateError) {
            try CurlCheck.multi(
                ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX)), "CURLMOPT_PIPELINING")
            try CurlCheck.multi(
                ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, maxConnections), "CURLMOPT_MAXCONNECTS")
            try CurlCheck.multi(
                ccurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections),
                "CURLMOPT_MAX_TOTAL_CONNECTIONS")
            // Bounded by the total.
            try CurlCheck.multi(
                ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0), "CURLMOPT_MAX_HOST_CONNECTIONS")
        } catch {
            curl_multi_cleanup(multi)
            close(wakeFD)
            throw error
        }
        self.multi = multi
        self.wakeFD = wakeFD
        self.stats = stats
        self.logger = logger
        self.maxSpareHandles = min(maxConnections, 64)
        NamedThread.start("flashgate-curl") { [self] in self.run() }
    }

    /// Any thread. After shutdown an added transfer fails at once instead of hanging.
    func post(_ command: Command) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopping else { return false }
            if inbox.commands.isEmpty { ccurl_wake_fd_signal(wakeFD) }
            inbox.commands.append(command)
            return true
        }
        if !accepted, case .add(let transfer) = command {
            transfer.pipe.finish(throwing: Self.shutDownError(transfer))
        }
    }

    /// Asks the loop to stop without waiting; safe from a deinit.
    func requestStop() {
        inbox.withLock { inbox in
            guard !inbox.stopping else { return }
            inbox.stopping = true
            ccurl_wake_fd_signal(wakeFD)
        }
    }

    /// Stops the loop, fails every open transfer and waits until the thread has let go of curl.
    func shutdown() {
        requestStop()
        exited.lock()
        while !hasExited { exited.wait() }
        exited.unlock()
    }

    private func run() {
        while true {
            let (commands, stopping) = inbox.withLock { inbox in
                defer { inbox.commands = [] }
                return (inbox.commands, inbox.stopping)
            }
            for command in commands { handle(command) }
            if stopping { break }
            var running: Int32 = 0
            CurlCheck.logged(curl_multi_perform(multi, &running), "curl_multi_perform", logger)
            collectFinished()
            let now = ContinuousClock.now
            enforceTimeouts(at: now)
            // What this pass's callbacks gathered reaches each consumer in one delivery; a
            // transfer that also finished was delivered with its end by `complete` above.
            for transfer in live.values where transfer.hasPending { transfer.flush() }
            let timeout = pollTimeoutMilliseconds(from: now)
            var wake = curl_waitfd(fd: wakeFD, events: Int16(CURL_WAIT_POLLIN), revents: 0)
            CurlCheck.logged(curl_multi_poll(multi, &wake, 1, timeout, nil), "curl_multi_poll", logger)
            // Reset before the inbox is taken at the top: a post after this wakes the next poll.
            if wake.revents != 0 { ccurl_wake_fd_drain(wakeFD) }
        }
        tearDown()
    }

    private func handle(_ command: Command) {
        switch command {
        case .add(let transfer):
            do {
                let spare = spareHandles.popLast()
                if spare != nil { stats.reusedHandlesCounter.add(1, ordering: .relaxed) }
                let easy = try transfer.makeEasyHandle(
                    reusing: spare, parsedURLs: parsedURLs, headerLists: headerLists, noProxy: noProxy)
                transfer.markStarted(at: .now)
                guard CurlCheck.logged(curl_multi_add_handle(multi, easy), "curl_multi_add_handle", logger) else {
                    transfer.releaseEasyHandle()
                    fail(transfer, FlashgateError(.internal, "libcurl refused the upstream call"))
                    return
                }
                live[easy] = transfer
                stats.liveTransfersCounter.add(1, ordering: .relaxed)
            } catch {
                fail(transfer, error)
            }
        case .cancel(let transfer):
            guard let easy = transfer.easy, live[easy] === transfer else { return }
            remove(transfer, easy: easy) { transfer.pipe.finish() }  // already terminated: a no-op
        case .resume(let transfer):
            guard let easy = transfer.easy, live[easy] === transfer, transfer.curlPaused else { return }
            transfer.curlPaused = false
            transfer.lastActivity = .now
            stats.resumesCounter.add(1, ordering: .relaxed)
            CurlCheck.logged(curl_easy_pause(easy, CURLPAUSE_CONT), "curl_easy_pause", logger)
        }
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = live[easy]
            else { continue }
            let code = message.pointee.data.result
            guard code != CURLE_OK else {
                remove(transfer, easy: easy) { transfer.complete(nil) }
                continue
            }
            let error = transfer.refusedResend ? CurlErrorMapping.resendRefused : CurlErrorMapping.error(for: code)
            remove(transfer, easy: easy) { fail(transfer, error) }
        }
    }

    private func enforceTimeouts(at now: ContinuousClock.Instant) {
        for (easy, transfer) in live {
            guard let error = transfer.expiredTimeout(at: now) else { continue }
            remove(transfer, easy: easy) { fail(transfer, error) }
        }
    }

    /// Bounded so timeouts the loop enforces itself are noticed within a millisecond or so of
    /// their deadline; curl shortens the wait further for its own timers.
    private func pollTimeoutMilliseconds(from now: ContinuousClock.Instant) -> Int32 {
        var wait = 1000
        for transfer in live.values {
            guard let deadline = transfer.nextDeadline() else { continue }
            wait = min(wait, max(0, (deadline - now).wholeMilliseconds))
        }
        return Int32(wait)
    }

    /// Detaches a transfer and ends its stream. The live count drops first, so whoever sees the
    /// stream end or the connection close also sees the count; `finish` runs while the handle can
    /// still answer `curl_easy_getinfo`; the handle is freed last.
    private func remove(_ transfer: CurlTransfer, easy: UnsafeMutableRawPointer, finish: () -> Void) {
        stats.liveTransfersCounter.subtract(1, ordering: .releasing)
        live[easy] = nil
        CurlCheck.logged(curl_multi_remove_handle(multi, easy), "curl_multi_remove_handle", logger)
        finish()
        guard let handle = transfer.detachEasyHandle() else { return }
        if spareHandles.count < maxSpareHandles {
            curl_easy_reset(handle)
            spareHandles.append(handle)
        } else {
            curl_easy_cleanup(handle)
        }
        // The handle no longer points to them.
        transfer.letGoOfSharedParts()
    }

    /// Ends a transfer with `error` and logs where it went, which the error does not say.
    private func fail(_ transfer: CurlTransfer, _ error: FlashgateError) {
        var metadata: Logger.Metadata = ["upstream": "\(transfer.host)", "error": "\(error.message)"]
        if let detail = transfer.curlDetail { metadata["curl"] = "\(detail)" }
        logger.warning("upstream call failed", metadata: metadata)
        transfer.complete(error)
    }

    private func tearDown() {
        let leftover = inbox.withLock { inbox in
            defer { inbox.commands = [] }
            return inbox.commands
        }
        for (easy, transfer) in live {
            remove(transfer, easy: easy) { transfer.complete(Self.shutDownError(transfer)) }
        }
        for case .add(let transfer) in leftover {
            transfer.pipe.finish(throwing: Self.shutDownError(transfer))
        }
        for handle in spareHandles { curl_easy_cleanup(handle) }
        spareHandles = []
        curl_multi_cleanup(multi)
        // `stopping` is set, so no post writes to it any more.
        close(wakeFD)
        exited.lock()
        hasExited = true
        exited.broadcast()
        exited.unlock()
    }

    private static func shutDownError(_ transfer: CurlTransfer) -> FlashgateError {
        FlashgateError(.unavailable, "the upstream transport was shut down")
    }
}
