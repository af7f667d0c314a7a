import Testing

@testable import FlashgateCore

/// The memo of accepted keys: it answers only for the exact key it was told, never remembers a
/// rejected key, stays bounded, and belongs to one `Identity` (a reload forgets it).
@Suite struct KeyMemoTests {
    let first = "fg-0123456789abcdefABCDEF0123456789"
    let second = "fg-ZYXWVUTSRQPONMLKJIHGFEDCBA987654"

    func identity(keys: [(String, String, String)]) -> Identity {
        Identity(
            teams: [TeamConfig(id: "a"), TeamConfig(id: "b")],
            keys: keys.map { KeyConfig(name: $0.1, team: $0.2, hashHex: VirtualKey.hashHex($0.0)) }, defaultTeam: nil)
    }

    @Test func neverAnswersAnotherKeysCaller() throws {
        let id = identity(keys: [(first, "one", "a"), (second, "two", "b")])
        #expect(try id.resolve(bearer: first, googKey: nil, peer: nil).get() == Caller(team: "a", key: "one"))
        #expect(id.memo.count == 1)
        // Remembered keys answer from the memo; each still gets its own caller.
        for _ in 0..<3 {
            #expect(try id.resolve(bearer: second, googKey: nil, peer: nil).get() == Caller(team: "b", key: "two"))
            #expect(try id.resolve(bearer: nil, googKey: first, peer: nil).get() == Caller(team: "a", key: "one"))
        }
        #expect(id.memo.count == 2)
        // A key that differs from a remembered one by one character, a prefix, or padding inside it is refused.
        for wrong in [String(first.dropLast()) + "X", String(first.dropLast()), first + "0", "fg-" + first] {
            guard case .failure(let error) = id.resolve(bearer: wrong, googKey: nil, peer: nil) else {
                Issue.record("a near miss of a remembered key was accepted"); continue
            }
            #expect(error.kind == .unauthorized)
        }
        #expect(id.memo.count == 2)
    }

    /// Swift's `String` equality and hashing see canonically equivalent text as one string (é
    /// written as one scalar or as e and a combining accent). A key's hash is of its bytes, so
    /// the memo must tell such keys apart too: the other spelling of an accepted key is refused.
    @Test func aKeySpelledWithOtherBytesIsRefusedThoughSwiftCallsItEqual() throws {
        let composed = "fg-cl\u{E9}-0123456789abcdef"
        let decomposed = "fg-cle\u{301}-0123456789abcdef"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        let id = identity(keys: [(composed, "one", "a")])
        guard case .failure = id.resolve(bearer: decomposed, googKey: nil, peer: nil) else {
            Issue.record("the other spelling was accepted before the key was ever seen"); return
        }
        #expect(try id.resolve(bearer: composed, googKey: nil, peer: nil).get() == Caller(team: "a", key: "one"))
        #expect(id.memo.count == 1)
        guard case .failure(let error) = id.resolve(bearer: decomposed, googKey: nil, peer: nil) else {
            Issue.record("the other spelling of a remembered key was accepted from the memo"); return
        }
        #expect(error.kind == .unauthorized)
    }

    @Test func surroundingWhitespaceIsTrimmedAsBefore() throws {
        let id = identity(keys: [(first, "one", "a")])
        for presented in [" \(first)", "\(first)\t", "\t \(first) "] {
            #expect(try id.resolve(bearer: presented, googKey: nil, peer: nil).get() == Caller(team: "a", key: "one"))
        }
        // A blank bearer falls through to x-goog-api-key.
        #expect(try id.resolve(bearer: "  ", googKey: first, peer: nil).get() == Caller(team: "a", key: "one"))
        #expect(id.memo.count == 1)
    }

    @Test func aReloadedIdentityForgetsRemovedKeys() throws {
        let before = identity(keys: [(first, "one", "a")])
        _ = try before.resolve(bearer: first, googKey: nil, peer: nil).get()
        #expect(before.memo.count == 1)
        // The key is revoked: the new configuration's identity refuses it, memo or not.
        let after = identity(keys: [(second, "two", "b")])
        #expect(after.memo.count == 0)
        guard case .failure = after.resolve(bearer: first, googKey: nil, peer: nil) else {
            Issue.record("a revoked key was accepted after reload"); return
        }
        // The key moved teams: the new identity answers with the new team.
        let moved = identity(keys: [(first, "one", "b")])
        #expect(try moved.resolve(bearer: first, googKey: nil, peer: nil).get() == Caller(team: "b", key: "one"))
    }

    @Test func staysBounded() {
        let memo = KeyMemo(limit: 4)
        for index in 0..<10 { memo.remember("key-\(index)", as: Caller(team: "t\(index)", key: "k\(index)")) }
        #expect(memo.count <= 4)
        #expect(memo.caller(for: "key-9") == Caller(team: "t9", key: "k9"))
        #expect(memo.caller(for: "key-10") == nil)
    }

    @Test func memosFingerprintDifferently() {
        // Salts are per memo: the same key does not have the same fingerprint in two memos.
        let key = first
        #expect(KeyMemo().fingerprint(key) != KeyMemo().fingerprint(key))
        let memo = KeyMemo()
        #expect(memo.fingerprint(key) == memo.fingerprint(key))
        #expect(memo.fingerprint(first) != memo.fingerprint(second))
    }
}
