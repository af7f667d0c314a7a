import FlashgateCore
import Foundation
import Testing

/// Sealed thought signatures: opened only by the install and the team they were sealed for.
@Suite struct SignatureSealTests {
    @Test func opensOnlyForTheSameTeamAndInstall() throws {
        let seal = SignatureSeal(secret: Array(repeating: 7, count: 32))
        let sealed = seal.seal("UkVBTA==", route: "studio", team: "a")
        #expect(!sealed.contains("UkVBTA=="))
        #expect(seal.open(sealed, team: "a") == StoredSignature(route: "studio", signature: "UkVBTA=="))
        #expect(seal.open(sealed, team: "b") == nil)
        #expect(SignatureSeal(secret: Array(repeating: 8, count: 32)).open(sealed, team: "a") == nil)
        var tampered = Array(sealed.utf8)
        tampered[tampered.count - 6] =
            tampered[tampered.count - 6] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(seal.open(String(decoding: tampered, as: UTF8.self), team: "a") == nil)
        #expect(seal.open("not sealed", team: "a") == nil)
    }

    @Test func theSecretIsKeptInTheStoreDirectory() throws {
        let directory = NSTemporaryDirectory() + "fg-seal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sealed = try SignatureSeal.load(directory: directory).seal("U0lH", route: "r", team: "t")
        let mode =
            try FileManager.default.attributesOfItem(atPath: directory + "/responses.secret")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try SignatureSeal.load(directory: directory).open(sealed, team: "t")?.signature == "U0lH")
    }
}
