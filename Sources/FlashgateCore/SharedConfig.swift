/// `shared:` — budgets shared by every Flashgate host that names the same Redis. Without this
/// section each host enforces its budgets alone, exactly as before.
///
/// Redis is the escrow: a host leases chunks of a budget period with one atomic script and admits
/// calls locally from them, so requests never wait on Redis except when a lease runs dry.
/// Invariant (validated): shared budgets need `ledger.durability: lease`, because a host's own
/// ledger is what proves its spend when it comes back after a crash.
package struct SharedConfig: Sendable, Equatable {
    /// What a host does once Redis is unreachable and the leases it holds are used up.
    package enum OutagePolicy: String, Sendable {
        /// Refuse calls against hard budgets with 503 `budget_unavailable` (the default).
        case refuse
        /// Admit against `local_share_percent` of each limit, counted on this host alone.
        case localShare = "local_share"
    }

    package enum Address: Sendable, Equatable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        package var description: String {
            switch self {
            case .tcp(let host, let port): "\(host):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }

        /// `host:port`, `unix:/path` or an absolute socket path.
        package init?(_ text: String) {
            if text.hasPrefix("unix:") {
                let path = String(text.dropFirst(5))
                guard path.hasPrefix("/") else { return nil }
                self = .unix(path: path)
            } else if text.hasPrefix("/") {
                self = .unix(path: text)
            } else {
                guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                    (1...65535).contains(port), colon > text.startIndex
                else { return nil }
                var host = String(text[..<colon])
                if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                self = .tcp(host: host, port: port)
            }
        }
    }

    package var address: Address
    package var database = 0
    /// Every Redis key Flashgate writes starts with this.
    package var keyPrefix = "flashgate:"
    package var password: Secret?
    /// This host's name in Redis: stable across restarts, so a restarted host reconciles its own
    /// lease from its ledger. Defaults to the machine's host name.
    package var hostID: String
    package var connectTimeout: Duration = .milliseconds(250)
    package var commandTimeout: Duration = .milliseconds(250)
    /// A host's lease lives this long without a word from it; then it counts as burned (spent)
    /// until that host reconciles. Heartbeats renew it every third of it.
    package var leaseTTL: Duration = .seconds(30)
    /// A chunk covers about this many typical calls.
    package var leaseCalls = 100
    /// Smallest chunk asked for (below it, near the limit, a host takes what is left).
    package var minChunk = MicroUSD(10_000)
    /// The next chunk is fetched when a lease has less than this share left.
    package var prefetchPercent = 25
    /// A host's spend Redis has not heard of stays under an allowance of at most this many typical
    /// calls (twice what it spent between its last two reports, at least `minChunk`; twice
    /// `leaseCalls` by default, so at steady load the lease calls are the reports); past it a
    /// call waits for a report. What a dead host leaves burned after its lease expired is at most
    /// that allowance; the rest of its lease returns.
    package var unreportedCalls = 200
    package var outage: OutagePolicy = .refuse
    /// Under `local_share`, the part of each limit a host may spend on its own during an outage.
    package var localSharePercent = 0
    /// Reconnect backoff: doubles from `reconnectMin` up to `reconnectMax`.
    package var reconnectMin: Duration = .milliseconds(100)
    package var reconnectMax: Duration = .seconds(5)

    package init(address: Address, hostID: String) {
        self.address = address
        self.hostID = hostID
    }
}
