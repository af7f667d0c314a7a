internal import CHiredis
import FlashgateCore
import Foundation

/// One synchronous hiredis connection with connect and command timeouts. Not thread-safe (hiredis
/// contexts are not): `RedisClient` confines it to its one queue. After an I/O error the context
/// cannot be reused, so the connection reports itself broken and is thrown away.
///
/// Invariant: a command returns or throws within its command timeout, however the server trickles
/// its reply; one that runs out breaks the connection, since a late reply would otherwise answer
/// the next command. The deadline is kept on real time (and on `clock`, a test's, when given):
/// the retry clock tests move by hand must not time out a command in flight.
package final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    private let commandTimeout: Duration
    private let clock: (any RetryClock)?
    package private(set) var broken = false

    package init(
        address: SharedConfig.Address, connectTimeout: Duration, commandTimeout: Duration,
        clock: (any RetryClock)? = nil
    ) throws(RedisError) {
        let connectTV = Self.timeval(connectTimeout)
        let made: UnsafeMutablePointer<redisContext>?
        switch address {
        case .tcp(let host, let port): made = redisConnectWithTimeout(host, Int32(port), connectTV)
        case .unix(let path): made = redisConnectUnixWithTimeout(path, connectTV)
        }
        guard let made else { throw RedisError(.unreachable, "cannot allocate a connection") }
        if made.pointee.err != 0 {
            let message = Self.errorText(made)
            redisFree(made)
            throw RedisError(.unreachable, "connect to \(address): \(message)")
        }
        context = made
        self.commandTimeout = commandTimeout
        self.clock = clock
        // Each write and read waits at most the command timeout; `command` bounds the whole.
        if redisSetTimeout(made, Self.timeval(commandTimeout)) != REDIS_OK {
            throw RedisError(.unreachable, "cannot set the command timeout")
        }
        // Keep-alive is for TCP; on a Unix socket it fails and would leave the context in error.
        if case .tcp = address { _ = redisEnableKeepAlive(made) }
    }

    deinit { redisFree(context) }

    /// Sends one command and reads its reply. An error reply is a value; a lost connection, or a
    /// reply not complete within the command timeout (a server trickling it byte by byte had
    /// held a command for as long as each byte came within the timeout), throws.
    package func command(_ args: [String]) throws(RedisError) -> RedisReply {
        guard !broken else { throw RedisError(.unreachable, "connection closed") }
        let deadline = clock.map { $0.now().advanced(by: commandTimeout) }
        let realDeadline = ContinuousClock.now.advanced(by: commandTimeout)
        let buffers = args.map { Array($0.utf8CString) }
        let lengths = args.map { $0.utf8.count }
        let appended = Self.withPointers(buffers) { argv in
            lengths.withUnsafeBufferPointer { lens in
                redisAppendCommandArgv(context, Int32(args.count), argv, lens.baseAddress)
            }
        }
        guard appended == REDIS_OK else { throw fail(Self.errorText(context)) }
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw fail(Self.errorText(context)) }
        }
        var raw: UnsafeMutableRawPointer?
        while true {
            guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw fail(Self.errorText(context)) }
            if raw != nil { break }
            var left = ContinuousClock.now.duration(to: realDeadline)
            if let clock, let deadline { left = min(left, clock.now().duration(to: deadline)) }
            guard left > .zero else { throw fail("no complete reply within the command timeout (\(commandTimeout))") }
            var ready = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
            let waited = poll(&ready, 1, Int32(clamping: (left.milliseconds + 1)))
            if waited < 0, errno != EINTR { throw fail(String(cString: strerror(errno))) }
            guard waited > 0 else { continue }
            guard redisBufferRead(context) == REDIS_OK else { throw fail(Self.errorText(context)) }
        }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    /// The connection cannot be used again (hiredis's context is in error, or a reply is still
    /// owed on it).
    private func fail(_ message: String) -> RedisError {
        broken = true
        return RedisError(.unreachable, message)
    }

    private static func withPointers<R>(
        _ buffers: [[CChar]], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        let copies = buffers.map { buffer -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: buffer.count)
            p.initialize(from: buffer, count: buffer.count)
            return p
        }
        defer { for p in copies { p.deallocate() } }
        var argv: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        return argv.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        func text() -> String {
            guard let str = r.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: str, count: Int(r.len)), as: UTF8.self)
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            for i in 0..<Int(r.elements) {
                if let child = chiredis_element(reply, i) { items.append(convert(child)) } else { items.append(.null) }
            }
            return .array(items)
        default: return .null
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            let chars = bytes.prefix { $0 != 0 }
            let text = String(decoding: chars, as: UTF8.self)
            return text.isEmpty ? "error \(context.pointee.err)" : text
        }
    }

    private static func timeval(_ d: Duration) -> Foundation.timeval {
        let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
        return Foundation.timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
    }
}
