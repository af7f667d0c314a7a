import FlashgateCore
import Testing

@Suite struct FixedPointTextTests {
    /// The formula the cost header and the access log used before the digits were written
    /// directly: whole part, point, zero-padded fraction.
    static func reference(_ value: Int64, decimals: Int) -> String {
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let sign = value < 0 ? "-" : ""
        let magnitude = value.magnitude
        guard decimals > 0 else { return "\(sign)\(magnitude)" }
        let fraction = String(magnitude % scale)
        return "\(sign)\(magnitude / scale).\(String(repeating: "0", count: decimals - fraction.count))\(fraction)"
    }

    @Test func examples() {
        #expect(FixedPointText.format(0, decimals: 3) == "0.000")
        #expect(FixedPointText.format(90, decimals: 3) == "0.090")
        #expect(FixedPointText.format(1500, decimals: 3) == "1.500")
        #expect(FixedPointText.format(12_000_003, decimals: 3) == "12000.003")
        #expect(FixedPointText.format(-7, decimals: 6) == "-0.000007")
        #expect(FixedPointText.format(42, decimals: 0) == "42")
        #expect(MicroUSD(1_234_567).dollars == "1.234567")
        #expect(MicroUSD(Int64.min).dollars == "-9223372036854.775808")
    }

    @Test(arguments: [0, 1, 3, 6, 9])
    func agreesWithThePaddedFormula(decimals: Int) {
        var values: [Int64] = [Int64.max, Int64.min, -1, 1, 9, 10, 99, 100, 999_999, 1_000_000, 1_000_001]
        // Every magnitude, with a deterministic spread of digits (no clock, no randomness).
        var value: Int64 = 7
        for _ in 0..<60 {
            values.append(value)
            values.append(-value)
            value = value &* 31 &+ 17
            if value < 0 { value = value & Int64.max }
        }
        for value in values {
            #expect(FixedPointText.format(value, decimals: decimals) == Self.reference(value, decimals: decimals))
        }
    }

    /// Appended after other bytes, the text is the same and the bytes before it are untouched.
    @Test func appendedAfterOtherBytes() {
        for (value, decimals) in [(0, 0), (7, 0), (-42, 0), (1_500, 3), (-7, 6), (Int64.min, 6), (Int64.max, 0)] {
            var out = Array("status=".utf8)
            FixedPointText.append(Int64(value), decimals: decimals, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == "status=" + FixedPointText.format(Int64(value), decimals: decimals))
        }
        var integer: [UInt8] = []
        FixedPointText.append(-1_234_567, decimals: 0, to: &integer)
        #expect(String(decoding: integer, as: UTF8.self) == String(-1_234_567))
    }

}
