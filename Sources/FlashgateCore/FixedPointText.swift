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

    /// `format`'s text appended to `out` (an integer when `decimals` is 0), with no string made:
    /// the digits are written backwards into scratch space on the stack, then copied in once.
    package static func append(_ value: Int64, decimals: Int, to out: inout [UInt8]) {
        let places = max(0, decimals)
        // Up to 20 digits of the whole part, the point, the sign, and the decimals.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: places + 22) { scratch in
            var at = scratch.count
            var rest = value.magnitude
            for _ in 0..<places {
                at -= 1
                scratch[at] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            if places > 0 {
                at -= 1
                scratch[at] = UInt8(ascii: ".")
            }
            repeat {
                at -= 1
                scratch[at] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            if value < 0 {
                at -= 1
                scratch[at] = UInt8(ascii: "-")
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[at...]))
        }
    }
}
