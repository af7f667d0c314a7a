/// Money in whole micro-dollars (1e-6 USD). Integer end to end, so sums never drift and a
/// budget comparison is exact.
package struct MicroUSD: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var value: Int64

    package init(_ value: Int64) { self.value = value }

    package static let zero = MicroUSD(0)

    /// The most a sum of money can hold; past it, sums stay there (over nine trillion dollars:
    /// no budget admits a call that reaches it).
    package static let max = MicroUSD(.max)

    package static func < (lhs: MicroUSD, rhs: MicroUSD) -> Bool { lhs.value < rhs.value }
    /// Sums and differences saturate instead of trapping: an absurd amount (an upstream's
    /// nonsense usage, a made-up price) must not bring the gateway down.
    package static func + (lhs: MicroUSD, rhs: MicroUSD) -> MicroUSD {
        let (sum, overflow) = lhs.value.addingReportingOverflow(rhs.value)
        return MicroUSD(overflow ? (rhs.value > 0 ? .max : .min) : sum)
    }
    package static func - (lhs: MicroUSD, rhs: MicroUSD) -> MicroUSD {
        let (difference, overflow) = lhs.value.subtractingReportingOverflow(rhs.value)
        return MicroUSD(overflow ? (rhs.value < 0 ? .max : .min) : difference)
    }
    /// Whole micro-dollars from a forecast's `Double`, rounded by `rule`; saturating, so a value
    /// out of `Int64`'s range (or not a number) cannot trap.
    package init(rounding micros: Double, _ rule: FloatingPointRoundingRule) {
        let rounded = micros.rounded(rule)
        if rounded.isNaN {
            value = 0
        } else if rounded >= 9_223_372_036_854_775_807 {
            value = .max
        } else if rounded <= -9_223_372_036_854_775_808 {
            value = .min
        } else {
            value = Int64(rounded)
        }
    }

    /// An amount worked out in 128 bits: below zero is none, past `Int64` is `max`.
    package init(saturating micros: Int128) {
        value = micros > Int128(Int64.max) ? .max : Int64(Swift.max(0, micros))
    }

    /// `n` times this amount, saturating like the sums.
    package func times(_ n: Int64) -> MicroUSD {
        let (product, overflow) = value.multipliedReportingOverflow(by: n)
        return MicroUSD(overflow ? ((value < 0) != (n < 0) ? .min : .max) : product)
    }

    package static func += (lhs: inout MicroUSD, rhs: MicroUSD) { lhs = lhs + rhs }
    package static func -= (lhs: inout MicroUSD, rhs: MicroUSD) { lhs = lhs - rhs }

    /// Dollars with six decimals, as the `x-flashgate-cost-usd` header writes them.
    package var dollars: String { FixedPointText.format(value, decimals: 6) }

    package var description: String { "$" + dollars }
}
