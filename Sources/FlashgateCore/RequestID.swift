import Synchronization

/// Request ids: a random per-process prefix and a counter, so ids are unique without a syscall
/// per request.
package enum RequestID {
    private static let prefix = UInt32.random(in: 0...UInt32.max)
    private static let counter = Atomic<UInt64>(0)

    package static func next() -> String {
        format(prefix: prefix, counter: counter.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    /// The prefix as 8 hex digits, then the counter as at least 12: written as bytes, without
    /// the radix conversions and padding strings it took before (~3k instructions a request).
    static func format(prefix: UInt32, counter n: UInt64) -> String {
        var digits = 12
        while digits < 16, n >> UInt64(4 * digits) != 0 { digits += 1 }
        return String(unsafeUninitializedCapacity: 8 + digits) { out in
            let hex: StaticString = "0123456789abcdef"
            hex.withUTF8Buffer { hex in
                for i in 0..<8 { out[i] = hex[Int((prefix >> UInt32(28 - 4 * i)) & 0xF)] }
                for i in 0..<digits { out[8 + i] = hex[Int((n >> UInt64(4 * (digits - 1 - i))) & 0xF)] }
            }
            return 8 + digits
        }
    }

    /// A client-supplied id is kept when it is short and plain, so traces join up.
    package static func accept(_ candidate: String?) -> String {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= 128,
            candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return next() }
        return candidate
    }
}
