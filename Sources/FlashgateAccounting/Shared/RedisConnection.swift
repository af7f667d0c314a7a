internal import CHiredis
import FlashgateCore
import Foundation

/// One synchronous hiredis connection with connect and command timeouts. Not thread-safe (hiredis
/// contexts are not): `RedisClient` confines it to its one queue. After an I/O error the context
/// cannot be reused, so the connection reports itself broken and is thrown away.
package final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    package private(set) var broken = false

    package init(address: SharedConfig.Address, connectTimeout: Duration, commandTimeout: Duration) throws(RedisError) {
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
        if redisSetTimeout(made, Self.timeval(commandTimeout)) != REDIS_OK {
            throw RedisError(.unreachable, "cannot set the command timeout")
        }
        // Keep-alive is for TCP; on a Unix socket it fails and would leave the context in error.
        if case .tcp = address { _ = redisEnableKeepAlive(made) }
    }

    deinit { redisFree(context) }

    /// Sends one command and reads its reply. An error reply is a value; a lost connection throws.
    package func command(_ args: [String]) throws(RedisError) -> RedisReply {
        guard !broken else { throw RedisError(.unreachable, "connection closed") }
        let buffers = args.map { Array($0.utf8CString) }
        let lengths = args.map { $0.utf8.count }
        let raw: UnsafeMutableRawPointer? = Self.withPointers(buffers) { argv in
            lengths.withUnsafeBufferPointer { lens in
                redisCommandArgv(context, Int32(args.count), argv, lens.baseAddress)
            }
        }
        guard let raw else {
            broken = true
            throw RedisError(.unreachable, Self.errorText(context))
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
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
