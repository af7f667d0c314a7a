import Testing

@testable import FlashgateCore

@Suite struct IdentityTests {
    let secret = "fg-0123456789abcdefABCDEF0123456789"

    func identity(defaultTeam: String? = nil) -> Identity {
        var a = TeamConfig(id: "a")
        a.unixUIDs = [1000]
        var b = TeamConfig(id: "b")
        b.unixGIDs = [50]
        return Identity(
            teams: [a, b], keys: [KeyConfig(name: "ci", team: "b", hashHex: VirtualKey.hashHex(secret))], defaultTeam: defaultTeam)
    }

    /// A presented key loses surrounding whitespace (Unicode's spaces and tabs, as Foundation
    /// trims them), whether or not its ends are plain ASCII; blank is absent.
    @Test func presentedKeysAreTrimmedOfWhitespaceOnly() {
        #expect(Identity.presented("fg-abc") == "fg-abc")
        #expect(Identity.presented(" fg-abc\t") == "fg-abc")
        #expect(Identity.presented("\u{00A0}fg-abc\u{3000}") == "fg-abc")
        #expect(Identity.presented("fg abc") == "fg abc")
        #expect(Identity.presented("é-key") == "é-key")
        #expect(Identity.presented(" \t ") == nil)
        #expect(Identity.presented("") == nil)
        #expect(Identity.presented(nil) == nil)
    }

    @Test func generatedKeysHaveTheShapeAndAHash() {
        var rng = SeededRandom(seed: 42)
        let key = VirtualKey.generate(using: &rng)
        #expect(key.hasPrefix("fg-") && key.count == 35)
        #expect(key.dropFirst(3).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(VirtualKey.generate(using: &rng) != key)
        #expect(VirtualKey.parseHash(VirtualKey.hashText(key)) == VirtualKey.hashHex(key))
        #expect(VirtualKey.hashHex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(VirtualKey.parseHash("sha256:abc") == nil)
        #expect(VirtualKey.parseHash("md5:" + String(repeating: "0", count: 64)) == nil)
    }

    @Test func bearerAndGoogKeyResolveToTheKeysTeam() throws {
        let id = identity()
        #expect(try id.resolve(bearer: secret, googKey: nil, peer: nil).get() == Caller(team: "b", key: "ci"))
        #expect(try id.resolve(bearer: nil, googKey: secret, peer: (1000, 1)).get() == Caller(team: "b", key: "ci"))
    }

    @Test func peerCredentialsMapByUIDThenGID() throws {
        let id = identity()
        #expect(try id.resolve(bearer: nil, googKey: nil, peer: (1000, 50)).get() == Caller(team: "a"))
        #expect(try id.resolve(bearer: nil, googKey: nil, peer: (7, 50)).get() == Caller(team: "b"))
    }

    @Test func defaultTeamOrUnauthorized() throws {
        #expect(try identity(defaultTeam: "a").resolve(bearer: nil, googKey: nil, peer: (7, 7)).get() == Caller(team: "a"))
        guard case .failure(let error) = identity().resolve(bearer: nil, googKey: nil, peer: nil) else {
            Issue.record("expected 401"); return
        }
        #expect(error.kind == .unauthorized && error.httpStatus == 401)
    }

    @Test func unknownKeyIs401WithoutEchoingIt() {
        let wrong = "fg-not-a-real-key-zzzzzzzzzzzzzzzzz"
        // A default team does not rescue a wrong key.
        guard case .failure(let error) = identity(defaultTeam: "a").resolve(bearer: wrong, googKey: nil, peer: nil) else {
            Issue.record("expected 401"); return
        }
        #expect(error.kind == .unauthorized)
        #expect(!error.message.contains(wrong) && !error.message.contains("zzzz"))
    }
}
