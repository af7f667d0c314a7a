/// One spelling per JSON number value, computed in exact decimal arithmetic on the literal's
/// digits (never through `Double`), so `1`, `1.0`, `1e0` and `10E-1` agree while two different
/// integers beyond 2^53 never collapse into one.
///
/// The canonical spelling of `±digits × 10^exponent` (digits without leading or trailing zeros):
/// `0` for zero (also `-0`); plain digits for integers below 10^40; a plain decimal fraction when
/// it needs at most 40 places; otherwise `digitsEexponent`. Each value has exactly one of these.
package enum CanonicalNumber {
    /// A number as sign, significant digits (no leading/trailing zeros; empty for zero) and exponent.
    package struct Decimal: Equatable, Sendable {
        package var negative: Bool
        package var digits: String
        package var exponent: Int
    }

    /// Splits a JSON number literal; nil when it is not one (or its exponent does not fit an Int).
    package static func decompose(_ text: String) -> Decimal? {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        } else if bytes.first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        var seenDigit = false
        while let byte = bytes.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { return nil }
                seenPoint = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                seenDigit = true
                if seenPoint { exponent -= 1 }
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte) }
            } else {
                return nil
            }
        }
        guard seenDigit else { return nil }
        if !bytes.isEmpty {
            guard let e = Int(String(decoding: bytes.dropFirst(), as: UTF8.self)) else { return nil }
            let (sum, overflow) = exponent.addingReportingOverflow(e)
            guard !overflow else { return nil }
            exponent = sum
        }
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            // An exponent at Int's edge has no room for the zeros: the literal keeps its spelling.
            let (next, overflow) = exponent.addingReportingOverflow(1)
            guard !overflow else { return nil }
            exponent = next
        }
        if digits.isEmpty { return Decimal(negative: false, digits: "", exponent: 0) }
        return Decimal(negative: negative, digits: String(decoding: digits, as: UTF8.self), exponent: exponent)
    }

    /// The canonical spelling of a number literal. A literal that is not a number (which the
    /// parser never produces) is kept as it is.
    package static func spelling(_ text: String) -> String {
        guard let decimal = decompose(text) else { return text }
        return spelling(decimal)
    }

    package static func spelling(_ d: Decimal) -> String {
        if d.digits.isEmpty { return "0" }
        let sign = d.negative ? "-" : ""
        let count = d.digits.utf8.count
        // Compared without sums that could overflow: the exponent may be anywhere in Int.
        if d.exponent >= 0 && d.exponent <= 40 - count {
            return sign + d.digits + String(repeating: "0", count: d.exponent)
        }
        if d.exponent < 0 && d.exponent >= -40 {
            let places = -d.exponent
            if count > places {
                let split = d.digits.index(d.digits.startIndex, offsetBy: count - places)
                return sign + d.digits[..<split] + "." + d.digits[split...]
            }
            return sign + "0." + String(repeating: "0", count: places - count) + d.digits
        }
        return sign + d.digits + "e" + String(d.exponent)
    }
}
