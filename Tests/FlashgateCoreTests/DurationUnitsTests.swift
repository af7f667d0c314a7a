import Testing

@testable import FlashgateCore

@Suite struct DurationUnitsTests {
    /// What the units were worked out as through `components` (seconds and attoseconds, both
    /// truncated toward zero).
    static func viaComponents(_ d: Duration, per unit: Int64) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * (1_000_000_000_000_000_000 / (unit * 1_000_000_000)) + attoseconds / (unit * 1_000_000_000)
    }

    @Test func unitsAreTheComponentsOnes() {
        let durations: [Duration] = [
            .zero, .nanoseconds(1), .nanoseconds(999), .microseconds(1), .nanoseconds(1_500), .milliseconds(1),
            .microseconds(1_999), .seconds(1), .milliseconds(1_500) + .nanoseconds(7), .seconds(86_400 * 365),
            .nanoseconds(-1), .nanoseconds(-1_500), .milliseconds(-1_500) - .nanoseconds(7), .seconds(-3),
            .seconds(9_000_000_000),
        ]
        for d in durations {
            #expect(d.wholeNanoseconds == Self.viaComponents(d, per: 1), "\(d)")
            #expect(d.wholeMicroseconds == Self.viaComponents(d, per: 1_000), "\(d)")
            #expect(d.milliseconds == Self.viaComponents(d, per: 1_000_000), "\(d)")
        }
        #expect(Duration.seconds(Int64.max).wholeNanoseconds == .max)
        #expect(Duration.seconds(Int64.min).wholeNanoseconds == .min)
    }
}
