/// Decimal text for a fixed-point integer, its digits written directly: the access log, the cost
/// headers and the rendered answers write several per request, and string interpolation with
/// zero padding cost about ten times more.
package enum FixedPointText {
    /// `value` divided by 10^`decimals`, with exactly `decimals` digits after the point and at
    /// least one before it: `format(1500, decimals: 3)` is `1.500`, `format(-7, decimals: 6)` is
    /// `-0.000007`.
    package static func format(_ value: Int64, decimals: Int) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        append(value, decimals: decimals, to: &digits)
        return String(decoding: digits, as: UTF8.self)
    }

    /// `format`'s text appended to `out` (an integer when `decimals` is 0), with no string made.
    package static func append(_ value: Int64, decimals: Int, to out: inout [UInt8]) {
        let start = out.count
        var rest = value.magnitude
        // Least significant first: the decimals, the point, then the whole part (at least "0").
        for _ in 0..<max(0, decimals) {
            out.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        }
        if decimals > 0 { out.append(UInt8(ascii: ".")) }
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        if value < 0 { out.append(UInt8(ascii: "-")) }
        // Reversed in place (a slice's `reverse()` would copy the array).
        var low = start
        var high = out.count - 1
        while low < high {
            out.swapAt(low, high)
            low += 1
            high -= 1
        }
    }
}
