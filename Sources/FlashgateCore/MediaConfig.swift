/// Limits for media Flashgate fetches itself (`image_url`/`file` parts with an http(s) URL).
/// The defaults are safe for a sidecar that sits next to internal services: https only, and no
/// loopback, private, link-local or unique-local targets, so a client cannot make Flashgate
/// read what only the host can reach.
package struct MediaConfig: Sendable, Equatable {
    /// The largest body one fetch may return; bigger answers are refused, not truncated.
    package var maxBytes: Int = 20 << 20
    /// One fetch, from connect to the last byte.
    package var timeout: Duration = .seconds(10)
    /// Allow plain `http://` URLs (default: https only).
    package var allowHTTP: Bool = false
    /// Allow hosts that resolve to loopback, private, link-local, unique-local or unspecified
    /// addresses (default: refused).
    package var allowPrivateNetworks: Bool = false

    package init() {}
}

extension MediaConfig {
    /// Reads the `media:` section; every error names its key path.
    package static func load(_ map: inout ConfigMap) throws(ConfigError) -> MediaConfig {
        var media = MediaConfig()
        if let v = try map.bytes("max_bytes", in: 1024...(1 << 30)) { media.maxBytes = v }
        if let v = try map.duration("timeout") {
            guard v > .zero else { throw ConfigError(path: map.child("timeout"), reason: "must be longer than 0s") }
            media.timeout = v
        }
        if let v = try map.bool("allow_http") { media.allowHTTP = v }
        if let v = try map.bool("allow_private_networks") { media.allowPrivateNetworks = v }
        try map.finish()
        return media
    }
}
