import FlashgateCore
import Foundation
import Logging
import Synchronization

/// The one Redis connection of a Flashgate, driven by hiredis's blocking API on a serial dispatch
/// queue of its own — never on an event loop. Every command is bounded by the connect and command
/// timeouts; after a failure the client waits out a backoff on the injected clock (doubling up to
/// `reconnect_max`) during which commands fail at once, so no request ever waits on a dead Redis
/// for longer than one command timeout.
///
/// Invariant: the hiredis context is touched only on `queue`.
package final class RedisClient: Sendable {
    /// Whether the last command reached Redis, for `/readyz`, metrics and the dashboard.
    package struct Status: Sendable, Equatable {
        package var reachable = false
        package var lastError: String?
        /// Commands sent (one per round trip).
        package var commands: Int64 = 0
        package var failures: Int64 = 0
    }

    private let config: SharedConfig
    private let clock: any RetryClock
    private let logger: Logger
    private let queue = DispatchQueue(label: "flashgate.redis")
    private let link = Confined()
    private let status = Mutex(Status())

    package init(config: SharedConfig, clock: any RetryClock, logger: Logger) {
        self.config = config
        self.clock = clock
        self.logger = logger
        // hiredis writes with plain write(2): a Redis that went away must be an error, not SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    package var currentStatus: Status { status.withLock { $0 } }

    /// Runs `args` on the Redis queue; `done` is called there.
    package func send(_ args: [String], done: @escaping @Sendable (Result<RedisReply, RedisError>) -> Void) {
        queue.async { [self] in done(self.run(args)) }
    }

    package func command(_ args: [String]) async -> Result<RedisReply, RedisError> {
        await withCheckedContinuation { continuation in send(args) { continuation.resume(returning: $0) } }
    }

    /// A script by its SHA1, falling back to `EVAL` on `NOSCRIPT` (after a Redis restart,
    /// failover or `SCRIPT FLUSH`) — which also caches it; `SCRIPT LOAD` is never needed.
    package func evaluate(
        _ script: RedisScript, keys: [String], args: [String],
        done: @escaping @Sendable (Result<RedisReply, RedisError>) -> Void
    ) {
        onQueue { session in done(session.evaluate(script, keys: keys, args: args)) }
    }

    /// Runs `work` on the Redis queue with a session that runs commands synchronously, so what it
    /// sends can be read from state at the moment it is sent, in queue order.
    package func onQueue(_ work: @escaping @Sendable (Session) -> Void) {
        queue.async { [self] in work(Session(client: self)) }
    }

    /// Commands from inside `onQueue`.
    package struct Session {
        fileprivate let client: RedisClient

        package func command(_ args: [String]) -> Result<RedisReply, RedisError> { client.run(args) }

        package func evaluate(_ script: RedisScript, keys: [String], args: [String]) -> Result<RedisReply, RedisError> {
            let tail = ["\(keys.count)"] + keys + args
            var result = client.run(["EVALSHA", script.sha1] + tail)
            if case .success(.error(let message)) = result, message.hasPrefix("NOSCRIPT") {
                result = client.run(["EVAL", script.source] + tail)
            }
            return result
        }
    }

    package func evaluate(_ script: RedisScript, keys: [String], args: [String]) async -> Result<RedisReply, RedisError>
    {
        await withCheckedContinuation { continuation in
            evaluate(script, keys: keys, args: args) { continuation.resume(returning: $0) }
        }
    }

    /// Closes the connection (on the queue, after what is queued).
    package func close() { queue.sync { link.connection = nil } }

    // MARK: on the queue

    fileprivate func run(_ args: [String]) -> Result<RedisReply, RedisError> {
        dispatchPrecondition(condition: .onQueue(queue))
        do {
            let connection = try connected()
            let reply = try connection.command(args)
            // An error reply is a failure like a lost connection (counted, logged, in the status),
            // but for NOSCRIPT, which `Session.evaluate` answers by sending the script. A server
            // that cannot take writes now (a replica after failover, loading, its primary down)
            // is left for a fresh connection after the backoff.
            if case .error(let message) = reply, !message.hasPrefix("NOSCRIPT") {
                if ["READONLY", "LOADING", "MASTERDOWN"].contains(where: { message.hasPrefix($0) }) {
                    link.connection = nil
                }
                let error = RedisError(.server, message)
                failed(error)
                return .failure(error)
            }
            succeeded()
            return .success(reply)
        } catch {
            failed(error)
            return .failure(error)
        }
    }

    private func connected() throws(RedisError) -> RedisConnection {
        if let connection = link.connection, !connection.broken { return connection }
        link.connection = nil
        let now = clock.now()
        if let retryAt = link.retryAt, now < retryAt {
            throw RedisError(.unreachable, status.withLock { $0.lastError } ?? "reconnecting")
        }
        let connection = try RedisConnection(
            address: config.address, connectTimeout: config.connectTimeout, commandTimeout: config.commandTimeout)
        if let password = config.password {
            let reply = try connection.command(["AUTH", password.value])
            if case .error(let message) = reply { throw RedisError(.unreachable, "AUTH refused: \(message)") }
        }
        if config.database != 0 {
            let reply = try connection.command(["SELECT", "\(config.database)"])
            if case .error(let message) = reply { throw RedisError(.unreachable, "SELECT refused: \(message)") }
        }
        link.connection = connection
        return connection
    }

    private func succeeded() {
        link.backoff = nil
        link.retryAt = nil
        let wasDown = status.withLock { s in
            defer {
                s.reachable = true
                s.lastError = nil
                s.commands += 1
            }
            return !s.reachable
        }
        if wasDown { logger.notice("shared budgets: redis reachable", metadata: ["address": "\(config.address)"]) }
    }

    private func failed(_ error: RedisError) {
        if link.retryAt == nil || clock.now() >= link.retryAt! {
            let next = min(config.reconnectMax, (link.backoff ?? config.reconnectMin / 2) * 2)
            link.backoff = next
            link.retryAt = clock.now().advanced(by: next)
        }
        let wasUp = status.withLock { s in
            defer {
                s.reachable = false
                s.lastError = error.message
                s.failures += 1
            }
            return s.reachable || s.failures == 0
        }
        if wasUp {
            let what = error.kind == .server ? "redis refused a command" : "redis unreachable"
            logger.error(
                "shared budgets: \(what); serving from held leases, then the outage policy",
                metadata: ["address": "\(config.address)", "error": "\(LogText.capped(error.message))"])
        }
    }

    /// State only the queue touches.
    private final class Confined: @unchecked Sendable {
        var connection: RedisConnection?
        var backoff: Duration?
        var retryAt: Tick?
    }
}
