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

/// SplitMix64: a seeded generator, so a "random" test runs the same every time.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
