extension Duration {
    /// Whole milliseconds, truncated: for `…Ms` fields, ledger rows and log lines.
    package var milliseconds: Int64 { Self.clamped(attoseconds / 1_000_000_000_000_000) }

    /// Whole microseconds, truncated toward zero (the access log's times).
    package var wholeMicroseconds: Int64 { Self.clamped(attoseconds / 1_000_000_000_000) }

    /// Whole nanoseconds, truncated toward zero (token buckets, timers).
    package var wholeNanoseconds: Int64 { Self.clamped(attoseconds / 1_000_000_000) }

    /// The instant this long after `nowMs`, in milliseconds, saturating: an expiry a very long
    /// TTL would put past `Int64` is the farthest there is, not an overflow.
    package func expiry(after nowMs: Int64) -> Int64 {
        let (sum, overflow) = nowMs.addingReportingOverflow(milliseconds)
        return overflow ? (milliseconds > 0 ? .max : .min) : sum
    }

    /// One 128-bit division of the attoseconds: `components` costs several (~370 instructions a
    /// call, and the request path asked for it a dozen times). Saturates at Int64's bounds.
    private static func clamped(_ value: Int128) -> Int64 {
        value > Int128(Int64.max) ? .max : value < Int128(Int64.min) ? .min : Int64(value)
    }
}
