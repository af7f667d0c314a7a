import Testing

@testable import FlashgateCore

@Suite struct MediaConfigTests {
    func map(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }

    @Test func defaultsAreHTTPSOnlyAndPublicOnly() {
        let media = FlashgateConfig.embeddedDefaults(environment: [:]).media
        #expect(media.maxBytes == 20 << 20)
        #expect(media.timeout == .seconds(10))
        #expect(!media.allowHTTP)
        #expect(!media.allowPrivateNetworks)
    }

    @Test func mediaSectionLoads() throws {
        let root = map([
            (
                "media",
                map([
                    ("max_bytes", .scalar("5MiB")), ("timeout", .scalar("2500ms")), ("allow_http", .scalar("true")),
                    ("allow_private_networks", .scalar("yes")),
                ])
            )
        ])
        let media = try FlashgateConfig.load(root, environment: [:]).media
        #expect(media.maxBytes == 5 << 20)
        #expect(media.timeout == .milliseconds(2500))
        #expect(media.allowHTTP && media.allowPrivateNetworks)
    }

    @Test(arguments: [
        ("media.max_bytes", "max_bytes", "huge"),
        ("media.max_bytes", "max_bytes", "2GiB"),
        ("media.timeout", "timeout", "soon"),
        ("media.timeout", "timeout", "0s"),
        ("media.allow_http", "allow_http", "maybe"),
        ("media.allow_private", "allow_private", "true"),
    ])
    func errorsNameTheKeyPath(_ expected: String, _ key: String, _ value: String) {
        let root = map([("media", map([(key, .scalar(value))]))])
        #expect {
            try FlashgateConfig.load(root, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.path == expected
        }
    }
}
