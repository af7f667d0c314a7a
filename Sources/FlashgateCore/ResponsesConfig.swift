/// `responses:` — how long stored OpenAI Responses conversations are kept.
///
/// Invariant: a stored response is answered (`GET /v1/responses/{id}`, `previous_response_id`)
/// only until its TTL ends; after that it is gone as if deleted.
package struct ResponsesConfig: Sendable, Equatable {
    /// `responses.ttl`: how long a response stored with `store: true` stays retrievable.
    package var ttl: Duration = .seconds(30 * 24 * 3600)
    /// `responses.max_team_bytes`: what one team's stored responses may take in the store; past
    /// it a `store: true` request is refused (400) until some expire or are deleted, so one team
    /// cannot fill the store the others share.
    package var maxTeamBytes: Int = 256 << 20

    package init() {}

    static func load(_ map: ConfigMap) throws(ConfigError) -> ResponsesConfig {
        var map = map
        var config = ResponsesConfig()
        if let ttl = try map.duration("ttl") {
            guard ttl > .zero else { throw ConfigError(path: map.child("ttl"), reason: "must be longer than 0s") }
            config.ttl = ttl
        }
        if let bytes = try map.bytes("max_team_bytes", in: (1 << 20)...(1 << 40)) { config.maxTeamBytes = bytes }
        try map.finish()
        return config
    }
}
