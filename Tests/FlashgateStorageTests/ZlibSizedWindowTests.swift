import FlashgateCore
import Testing

@testable import FlashgateStorage

/// Compression with the window and hash table scaled to the input: every size round-trips, and
/// a stream stays decodable by the 15-bit inflater whatever window it was made with.
@Suite struct ZlibSizedWindowTests {
    func sizes(_ count: Int) -> [Int32] {
        let parameters = Zlib.parameters(forInputBytes: count)
        return [parameters.windowBits, parameters.memLevel]
    }

    @Test func windowsSpanTheInputUpToThirtyTwoKiB() {
        #expect(sizes(0) == [9, 2])
        #expect(sizes(512) == [9, 2])
        #expect(sizes(513) == [10, 3])
        #expect(sizes(4096) == [12, 5])
        #expect(sizes(20_000) == [15, 8])
        #expect(sizes(10 << 20) == [15, 8])
        for count in [1, 100, 511, 512, 513, 1000, 5000, 40_000] {
            let (bits, _) = Zlib.parameters(forInputBytes: count)
            #expect(1 << bits >= count || bits == 15)
        }
    }

    @Test func manyEntriesOfDifferentSizesRoundTrip() throws {
        var rng = SeededRandom(seed: 7)
        let words = ["{\"text\":", "\"the ", "quick ", "brown ", "fox\"", "}", ",", "\\n", "42", "thoughtSignature"]
        for size in [0, 1, 2, 17, 255, 256, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 16_383, 16_385, 32_768, 32_769, 70_001, 300_000] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(size)
            while bytes.count < size {
                bytes += Array(words[Int(rng.next(upperBound: UInt64(words.count)))].utf8)
                if rng.next(upperBound: UInt64(8)) == 0 { bytes.append(UInt8(truncatingIfNeeded: rng.next() as UInt64)) }
            }
            bytes = Array(bytes.prefix(size))
            for level in [Int32(1), 6] {
                let compressed = Zlib.compress(bytes, level: level)
                #expect(try Zlib.decompress(compressed, maxOutputBytes: size) == bytes, "size \(size) level \(level)")
                let exact = try compressed.withUnsafeBytes { try Zlib.decompress($0, exactOutputBytes: size) }
                #expect(exact == bytes, "size \(size) level \(level)")
                if size >= 4096 { #expect(compressed.count < size / 2, "size \(size) compresses") }
            }
        }
    }
}
