import Foundation
import Testing

@testable import FlashgateStorage

@Suite struct ZlibTests {
    static let prose: [UInt8] = Array(
        String(
            repeating: "{\"choices\":[{\"message\":{\"content\":\"The quick brown fox jumps over the lazy dog.\"}}]} ",
            count: 200
        ).utf8)

    @Test(arguments: [Int32(1), 6])
    func roundTrip(level: Int32) throws {
        let compressed = Zlib.compress(Self.prose, level: level)
        #expect(compressed.count < Self.prose.count / 4)
        #expect(compressed.first == 0x78)  // zlib header, 32 KiB window
        #expect(try Zlib.decompress(compressed, maxOutputBytes: Self.prose.count) == Self.prose)
    }

    @Test func roundTripsEmptyAndIncompressibleInput() throws {
        #expect(try Zlib.decompress(Zlib.compress([]), maxOutputBytes: 0) == [])
        var rng = SystemRandomNumberGenerator()
        let noise = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect(try Zlib.decompress(Zlib.compress(noise, level: 6), maxOutputBytes: noise.count) == noise)
    }

    @Test func truncatedInputThrows() throws {
        let compressed = Zlib.compress(Self.prose)
        for cut in [compressed.count - 1, compressed.count / 2, 2] {
            let error = #expect(throws: ZlibError.self) {
                try Zlib.decompress(Array(compressed.prefix(cut)), maxOutputBytes: 1 << 20)
            }
            #expect(error?.reason == .truncated)
        }
        #expect(throws: ZlibError.self) { try Zlib.decompress([], maxOutputBytes: 1 << 20) }
    }

    @Test func garbageInputThrows() throws {
        let error = #expect(throws: ZlibError.self) {
            try Zlib.decompress(Array("this is not zlib at all".utf8), maxOutputBytes: 1 << 20)
        }
        #expect(error?.reason == .corrupt)

        var flipped = Zlib.compress(Self.prose)
        flipped[flipped.count - 2] ^= 0xFF  // break the Adler-32 trailer
        let checksum = #expect(throws: ZlibError.self) { try Zlib.decompress(flipped, maxOutputBytes: 1 << 20) }
        #expect(checksum?.reason == .corrupt)
    }

    @Test func trailingBytesThrow() throws {
        let error = #expect(throws: ZlibError.self) {
            try Zlib.decompress(Zlib.compress(Self.prose) + [0], maxOutputBytes: 1 << 20)
        }
        #expect(error?.reason == .trailingData)
    }

    @Test func maxOutputBytesIsEnforced() throws {
        let compressed = Zlib.compress(Self.prose)
        #expect(try Zlib.decompress(compressed, maxOutputBytes: Self.prose.count).count == Self.prose.count)
        let error = #expect(throws: ZlibError.self) {
            try Zlib.decompress(compressed, maxOutputBytes: Self.prose.count - 1)
        }
        #expect(error?.reason == .outputTooLarge)

        // A small bomb: 64 MiB of zeros compresses to about 64 KiB and must not be inflated whole.
        let bomb = Zlib.compress([UInt8](repeating: 0, count: 64 << 20))
        #expect(throws: ZlibError.self) { try Zlib.decompress(bomb, maxOutputBytes: 1 << 20) }
    }

    @Test func exactSizeInflateFromBorrowedBytes() throws {
        let compressed = Zlib.compress(Self.prose)
        let exact = try compressed.withUnsafeBytes { try Zlib.decompress($0, exactOutputBytes: Self.prose.count) }
        #expect(exact == Self.prose)
        let empty = Zlib.compress([])
        #expect(try empty.withUnsafeBytes { try Zlib.decompress($0, exactOutputBytes: 0) } == [])
        // A recorded size that does not match, a cut stream, or bytes after it are all errors.
        for expected in [Self.prose.count - 1, Self.prose.count + 1] {
            #expect(throws: ZlibError.self) { try compressed.withUnsafeBytes { try Zlib.decompress($0, exactOutputBytes: expected) } }
        }
        let cut = Array(compressed.dropLast(3))
        #expect(throws: ZlibError.self) { try cut.withUnsafeBytes { try Zlib.decompress($0, exactOutputBytes: Self.prose.count) } }
        let trailing = compressed + [0]
        #expect(throws: ZlibError.self) {
            try trailing.withUnsafeBytes { try Zlib.decompress($0, exactOutputBytes: Self.prose.count) }
        }
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(Array("123456789".utf8).withUnsafeBytes { Zlib.crc32($0) } == 0xCBF4_3926)
    }
}
