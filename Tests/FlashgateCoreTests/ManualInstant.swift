/// A monotonic instant the test moves by hand: no sleeping, exact arithmetic.
struct ManualInstant: InstantProtocol {
    var nanos: Int64

    func advanced(by duration: Duration) -> ManualInstant {
        let (s, a) = duration.components
        return ManualInstant(nanos: nanos + s * 1_000_000_000 + a / 1_000_000_000)
    }

    func duration(to other: ManualInstant) -> Duration { .nanoseconds(other.nanos - nanos) }

    static func < (lhs: ManualInstant, rhs: ManualInstant) -> Bool { lhs.nanos < rhs.nanos }

    static let zero = ManualInstant(nanos: 0)
}
