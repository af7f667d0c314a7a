import FlashgateCore
import FlashgateRouting
import Logging
import Synchronization

/// The gateway new requests go to. Connection handlers read it once per request, so a reload
/// swaps it for requests that arrive afterwards while requests in flight finish, to their last
/// byte and their settlement, on the gateway they started with.
package final class GatewayHolder: Sendable {
    private let gateway: Mutex<Gateway>
    /// Serializes reloads (a SIGHUP and a test, or two quick SIGHUPs).
    private let reloading = Mutex(())

    package init(_ gateway: Gateway) { self.gateway = Mutex(gateway) }

    package var current: Gateway { gateway.withLock { $0 } }

    func replace(with new: Gateway) { gateway.withLock { $0 = new } }

    func serialized<T: Sendable>(_ body: () throws -> T) throws -> T {
        try reloading.withLock { _ in try body() }
    }
}

/// An on/off switch read on the request path (the access log's `log.access`).
package final class OnOffSwitch: Sendable {
    private let on: Atomic<Bool>

    package init(_ on: Bool) { self.on = Atomic(on) }

    package var isOn: Bool { on.load(ordering: .relaxed) }

    package func set(_ value: Bool) { on.store(value, ordering: .relaxed) }
}

/// What a reload applied.
package struct ReloadSummary: Sendable, Equatable {
    package var routes: Int
    package var models: Int
    package var teams: Int
    package var keys: Int
    /// Config keys whose new values were not applied because they need a restart.
    package var restartNeeded: [String]
}

extension Runtime.Running {
    /// Re-reads the config source (the file, flags and environment given at start), validates it
    /// and applies it; SIGHUP calls this. A config that fails to load or validate is refused: the
    /// reason is logged at error level and thrown, and everything stays as it was.
    ///
    /// Settings that only take effect at start (`RestartOnly`) keep their running values; each
    /// changed one is logged as a warning and listed in the summary, and the rest is applied.
    ///
    /// Kept across a reload: the response cache and its entries, the flight table (coalescing),
    /// the signature store, the ledger, budget totals and open reservations, the token buckets of
    /// limits that still exist, route health (breakers, latencies) by route name, the telemetry
    /// sink (metrics counters), readiness, the retry clock.
    @discardableResult
    package func reload() throws -> ReloadSummary {
        try gateways.serialized { try runtime.reload(gateways) }
    }
}

extension Runtime {
    func reload(_ gateways: GatewayHolder) throws -> ReloadSummary {
        let old = gateways.current
        var config: FlashgateConfig
        let routes: RouteTable
        let restartNeeded: [String]
        do {
            guard let reloadConfig else {
                throw FlashgateError(.unavailable, "this instance has no configuration source to reload from")
            }
            config = try reloadConfig()
            restartNeeded = RestartOnly.changes(from: old.config, to: config)
            RestartOnly.keep(old.config, in: &config)
            // Everything that can fail is built before anything changes: a Vertex route whose
            // service-account file cannot be read fails the reload, not the next request.
            let tokens = try Self.tokenSources(config, transport: http, nowMilliseconds: nowMilliseconds)
            routes = RouteTable(config: config, http: http, tokens: tokens, random: random)
        } catch {
            logger.error("configuration reload refused; the running configuration stays", metadata: ["reason": "\(error)"])
            throw error
        }
        // From here nothing fails.
        for key in restartNeeded {
            logger.warning("configuration change needs a restart; keeping the running value", metadata: ["key": "\(key)"])
        }
        let accountant = old.accountant.reloaded(config: config)
        old.health.breakers.update(config: config.breaker)
        accessLogSwitch.set(config.log.access)
        old.metrics?.update(config: config)
        let gateway = Gateway(
            config: config, routes: routes, readiness: old.readiness, signatures: old.signatures, cache: old.cache,
            accountant: accountant, logger: logger, now: old.now, nowMilliseconds: nowMilliseconds,
            media: UpstreamMediaFetcher(transport: http, config: config.media), clock: clock, random: random,
            telemetry: old.telemetry, flights: old.flights, health: old.health, metrics: old.metrics,
            connections: old.connections, conversations: old.responses.conversations, seal: old.responses.seal,
            contextCacheBook: old.contextCacheBook)
        gateways.replace(with: gateway)
        let summary = ReloadSummary(
            routes: config.routes.count, models: config.models.count, teams: config.teams.count, keys: config.keys.count,
            restartNeeded: restartNeeded)
        var metadata: Logger.Metadata = [
            "routes": "\(summary.routes)", "models": "\(summary.models)", "teams": "\(summary.teams)",
            "keys": "\(summary.keys)",
        ]
        if !restartNeeded.isEmpty { metadata["restart_needed"] = "\(restartNeeded.joined(separator: ","))" }
        logger.info("configuration reloaded", metadata: metadata)
        return summary
    }
}
