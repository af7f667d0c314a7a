/// Money in whole micro-dollars (1e-6 USD). Integer end to end, so sums never drift and a
/// budget comparison is exact.
package struct MicroUSD: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var value: Int64

    package init(_ value: Int64) { self.value = value }

    package static let zero = MicroUSD(0)

    package static func < (lhs: MicroUSD, rhs: MicroUSD) -> Bool { lhs.value < rhs.value }
    package static func + (lhs: MicroUSD, rhs: MicroUSD) -> MicroUSD { MicroUSD(lhs.value + rhs.value) }
    package static func - (lhs: MicroUSD, rhs: MicroUSD) -> MicroUSD { MicroUSD(lhs.value - rhs.value) }
    package static func += (lhs: inout MicroUSD, rhs: MicroUSD) { lhs.value += rhs.value }
    package static func -= (lhs: inout MicroUSD, rhs: MicroUSD) { lhs.value -= rhs.value }

    /// Dollars with six decimals, as the `x-flashgate-cost-usd` header writes them.
    package var dollars: String { FixedPointText.format(value, decimals: 6) }

    package var description: String { "$" + dollars }
}
