import Testing

@testable import FlashgateCore

@Suite struct RequestIDTests {
    /// The id as it was written with radix conversions and padding: 8 hex digits of the prefix,
    /// then the counter padded to 12.
    static func padded(_ prefix: UInt32, _ n: UInt64) -> String {
        let head = String(prefix, radix: 16)
        let tail = String(n, radix: 16)
        return String(repeating: "0", count: 8 - head.count) + head
            + String(repeating: "0", count: max(0, 12 - tail.count)) + tail
    }

    @Test func writtenAsItWasPadded() {
        let prefixes: [UInt32] = [0, 1, 0xa523_96db, 0x0000_00ff, .max]
        let counters: [UInt64] = [0, 1, 2, 15, 16, 0xabc, 1 << 40, (1 << 48) - 1, 1 << 48, 0x1234_5678_9abc_def0, .max]
        for prefix in prefixes {
            for n in counters {
                #expect(RequestID.format(prefix: prefix, counter: n) == Self.padded(prefix, n), "\(prefix) \(n)")
            }
        }
    }

    @Test func idsAreUniqueAndPlain() {
        let ids = (0..<1_000).map { _ in RequestID.next() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 20 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) } })
        #expect(RequestID.accept("trace-1") == "trace-1")
        #expect(RequestID.accept("bad id").utf8.count == 20)
    }
}
