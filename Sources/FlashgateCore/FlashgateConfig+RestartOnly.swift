/// Settings read only at start: the listeners and edge limits (bound into the server), the
/// upstream connection pool's size (libcurl's multi handle is made once), the store, the
/// ledger's size and retention, and the cache's size (opened once), the log handler, the accounting mode and time zone
/// (budget periods and reservations already made depend on them), and the threads' scheduling policy.
package enum RestartOnly {
    /// The config keys whose values differ, in config-file spelling.
    package static func changes(from old: FlashgateConfig, to new: FlashgateConfig) -> [String] {
        var keys: [String] = []
        func check(_ key: String, _ changed: Bool) { if changed { keys.append(key) } }
        check("listen.host", old.listen.host != new.listen.host)
        check("listen.port", old.listen.port != new.listen.port)
        check("listen.socket", old.listen.socketPath != new.listen.socketPath)
        check("listen.socket_mode", old.listen.socketMode != new.listen.socketMode)
        check("limits", old.limits != new.limits)
        check("upstream.max_connections", old.upstreamMaxConnections != new.upstreamMaxConnections)
        check("store.path", old.store.path != new.store.path)
        check("store.max_size", old.store.maxSizeBytes != new.store.maxSizeBytes)
        check("ledger", old.ledger != new.ledger)
        check("cache.enabled", old.cache.enabled != new.cache.enabled)
        check("cache.max_size", old.cache.maxSizeBytes != new.cache.maxSizeBytes)
        check("cache.sweep_interval", old.cache.sweepInterval != new.cache.sweepInterval)
        check("log.level", old.log.level != new.log.level)
        check("log.format", old.log.format != new.log.format)
        check("accounting.mode", old.accounting.mode != new.accounting.mode)
        check("accounting.time_zone", old.accounting.timeZoneID != new.accounting.timeZoneID)
        check("shared", old.shared != new.shared)
        check("process.scheduling", old.scheduling != new.scheduling)
        return keys
    }

    /// Puts the running values of the restart-only settings back into `new`.
    package static func keep(_ old: FlashgateConfig, in new: inout FlashgateConfig) {
        new.listen = old.listen
        new.limits = old.limits
        new.upstreamMaxConnections = old.upstreamMaxConnections
        new.store = old.store
        new.ledger = old.ledger
        new.shared = old.shared
        new.cache.enabled = old.cache.enabled
        new.cache.maxSizeBytes = old.cache.maxSizeBytes
        new.cache.sweepInterval = old.cache.sweepInterval
        new.log.level = old.log.level
        new.log.format = old.log.format
        new.accounting.mode = old.accounting.mode
        new.accounting.timeZoneID = old.accounting.timeZoneID
        new.ledger = old.ledger
        new.scheduling = old.scheduling
    }
}
