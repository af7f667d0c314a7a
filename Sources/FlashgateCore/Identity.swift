import Foundation

/// Who a request is billed to: a team and, when it presented one, a virtual key's name (empty
/// for callers identified by Unix peer credentials or the default team).
package struct Caller: Sendable, Hashable, CustomStringConvertible {
    package var team: String
    package var key: String

    package init(team: String, key: String = "") {
        self.team = team
        self.key = key
    }

    package var description: String { key.isEmpty ? "team \(team)" : "team \(team), key \(key)" }

    /// The team every caller belongs to when no teams or keys are configured.
    package static let defaultTeam = "default"
}

/// Maps what a request presents — a virtual key, or the uid/gid of a Unix-socket peer — to a
/// `Caller`. Keys are looked up by their SHA-256 digest, so the comparison never runs over the
/// secret itself and timing reveals nothing usable about it; error messages never echo a key.
/// Precedence: a presented key (Bearer, then `x-goog-api-key`), then the peer's uid, its gid,
/// then the default team. Accepted keys are remembered in a `KeyMemo` by fingerprint, so each is
/// hashed with SHA-256 once; the memo belongs to this identity and goes with it on reload.
package struct Identity: Sendable {
    private var keysByHash: [String: Caller] = [:]
    package let memo = KeyMemo()
    private var teamsByUID: [UInt32: String] = [:]
    private var teamsByGID: [UInt32: String] = [:]
    private var defaultTeam: String?

    package init(teams: [TeamConfig], keys: [KeyConfig], defaultTeam: String?) {
        for key in keys { keysByHash[key.hashHex] = Caller(team: key.team, key: key.name) }
        for team in teams {
            for uid in team.unixUIDs { teamsByUID[uid] = team.id }
            for gid in team.unixGIDs { teamsByGID[gid] = team.id }
        }
        self.defaultTeam = defaultTeam
    }

    package init(config: FlashgateConfig) {
        self.init(teams: config.teams, keys: config.keys, defaultTeam: config.accounting.defaultTeam)
    }

    /// `bearer` is the token after `Authorization: Bearer `; `googKey` the `x-goog-api-key`
    /// header; `peer` the Unix-socket peer credentials, `nil` on TCP.
    package func resolve(bearer: String?, googKey: String?, peer: (uid: UInt32, gid: UInt32)?) -> Result<Caller, FlashgateError> {
        if let presented = Self.presented(bearer) ?? Self.presented(googKey) {
            if let caller = memo.caller(for: presented) { return .success(caller) }
            if let caller = keysByHash[VirtualKey.hashHex(presented)] {
                memo.remember(presented, as: caller)
                return .success(caller)
            }
            return .failure(FlashgateError(.unauthorized, "the API key presented is not valid"))
        }
        if let peer {
            if let team = teamsByUID[peer.uid] { return .success(Caller(team: team)) }
            if let team = teamsByGID[peer.gid] { return .success(Caller(team: team)) }
        }
        if let defaultTeam { return .success(Caller(team: defaultTeam)) }
        return .failure(
            FlashgateError(.unauthorized, "an API key is required: send Authorization: Bearer <key> or x-goog-api-key"))
    }

    /// The header's value without surrounding whitespace, or `nil` when absent or blank. The
    /// common case, nothing to trim, skips Foundation's trimming: ends that are printable ASCII
    /// other than a space are settled by a byte compare (`CharacterSet.whitespaces` costs about
    /// a thousand instructions a look).
    static func presented(_ value: String?) -> String? {
        guard let value, let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else {
            return nil
        }
        let plain = { (scalar: Unicode.Scalar) in scalar.value > 0x20 && scalar.value < 0x7F }
        if plain(first) && plain(last) { return value }
        if !CharacterSet.whitespaces.contains(first) && !CharacterSet.whitespaces.contains(last) { return value }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }
}
