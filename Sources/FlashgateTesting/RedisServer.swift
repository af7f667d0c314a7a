import FlashgateAccounting
import FlashgateCore
import Foundation
import Synchronization

/// A real `redis-server` for a test, on a Unix socket in a fresh temp directory, with no
/// persistence (`--save '' --appendonly no`). `start` returns once the server said it is ready
/// and answered PING — no fixed sleeps; `stop` kills it; `start` again brings it back on the
/// same socket (an outage and its end). `remove` kills it and deletes the directory.
package final class RedisServer: Sendable {
    package let directory: TempDirectory
    package var socketPath: String { directory.file("redis.sock") }
    package var address: SharedConfig.Address { .unix(path: socketPath) }
    private let process = Mutex<ChildProcess?>(nil)

    package init() throws { directory = try TempDirectory(prefix: "fgr") }

    /// Starts a server and waits until it answers.
    package static func started() async throws -> RedisServer {
        let server = try RedisServer()
        try await server.start()
        return server
    }

    package func start() async throws {
        let process = try ChildProcess(
            path: Self.binary,
            arguments: [
                "--port", "0", "--unixsocket", socketPath, "--unixsocketperm", "700", "--save", "", "--appendonly",
                "no", "--dir", directory.path, "--loglevel", "notice",
            ])
        self.process.withLock { $0 = process }
        // redis-server logs "…ready to accept connections…" once it listens.
        let ready: Bool = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var text = ""
                while true {
                    guard let bytes = process.read() else { return continuation.resume(returning: false) }
                    text += String(decoding: bytes, as: UTF8.self)
                    if text.lowercased().contains("ready to accept connections") {
                        // Keep draining the pipe so the server never blocks on a full one.
                        DispatchQueue.global().async { while process.read() != nil {} }
                        return continuation.resume(returning: true)
                    }
                }
            }
        }
        guard ready, case .status("PONG") = try command(["PING"]) else {
            stop()
            throw RedisError(.unreachable, "redis-server did not start")
        }
    }

    /// One command on a fresh connection.
    @discardableResult
    package func command(_ args: [String]) throws -> RedisReply {
        let connection = try RedisConnection(
            address: address, connectTimeout: .seconds(5), commandTimeout: .seconds(5))
        return try connection.command(args)
    }

    /// `INFO commandstats` as calls per command (`evalsha`, `eval`, `ping`, …).
    package func commandCalls() throws -> [String: Int] {
        guard case .string(let text) = try command(["INFO", "commandstats"]) else { return [:] }
        var calls: [String: Int] = [:]
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
            let parts = line.dropFirst("cmdstat_".count).split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let field = parts[1].split(separator: ",").first(where: { $0.hasPrefix("calls=") }),
                let n = Int(field.dropFirst(6))
            else { continue }
            calls[String(parts[0])] = n
        }
        return calls
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    package func stop() {
        guard
            let process = process.withLock({ p in
                defer { p = nil }
                return p
            })
        else { return }
        process.signal(SIGKILL)
        process.wait()
        try? FileManager.default.removeItem(atPath: socketPath)
    }

    package func remove() {
        stop()
        directory.remove()
    }

    static let binary =
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        } ?? "redis-server"
}
