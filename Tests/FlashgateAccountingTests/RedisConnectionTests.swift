import FlashgateCore
import FlashgateTesting
import Foundation
import Glibc
import Synchronization
import Testing

@testable import FlashgateAccounting

/// The command timeout bounds a whole command, not each read: a server that keeps a reply
/// coming a little at a time cannot hold the shared-budget queue (and with it every lease grant)
/// past it. Before, the timeout was only the socket's, so each byte arriving in time renewed it.
@Suite struct RedisConnectionTests {
    /// A clock that moves 100 ms every time it is read: the connection's deadline passes after a
    /// few reads, whatever the real time.
    final class SteppingClock: RetryClock {
        private let ticks = Mutex(Duration.zero)
        func now() -> Tick { Tick(ticks.withLock { $0 += .milliseconds(100); return $0 }) }
        func sleep(until deadline: Tick) async throws {}
    }

    /// A listener on a loopback port that answers the first command it reads with the head of a
    /// 32 MB bulk string and then its bytes, 64 KiB at a time, as fast as the client takes them.
    final class TricklingServer: Sendable {
        let port: Int
        private let listener: Int32

        init() throws {
            (listener, port) = try ClosedPort.loopbackSocket(listening: true)
            Thread.detachNewThread { [listener] in Self.serve(listener) }
        }

        private static func serve(_ listener: Int32) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            var request = [UInt8](repeating: 0, count: 4096)
            guard read(client, &request, request.count) > 0 else { return }
            let size = 32 << 20
            guard send(Array("$\(size)\r\n".utf8), client) else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
            var sent = 0
            while sent < size, send(chunk, client) { sent += chunk.count }
            _ = send(Array("\r\n".utf8), client)
        }

        private static func send(_ bytes: [UInt8], _ fd: Int32) -> Bool {
            bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }

        deinit { close(listener) }
    }

    @Test func aReplyThatKeepsComingPastTheTimeoutFailsTheCommand() throws {
        let server = try TricklingServer()
        let connection = try RedisConnection(
            address: .tcp(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5),
            commandTimeout: .milliseconds(250), clock: SteppingClock())
        #expect(throws: RedisError.self) { _ = try connection.command(["GET", "lease"]) }
        #expect(connection.broken, "a reply still owed leaves the connection unusable")
    }
}
