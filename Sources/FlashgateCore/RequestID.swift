import Synchronization

/// Request ids: a random per-process prefix and a counter, so ids are unique without a syscall
/// per request.
package enum RequestID {
    private static let prefix: String = {
        let value = UInt32.random(in: 0...UInt32.max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }()
    private static let counter = Atomic<UInt64>(0)

    package static func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let hex = String(n, radix: 16)
        return prefix + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    /// A client-supplied id is kept when it is short and plain, so traces join up.
    package static func accept(_ candidate: String?) -> String {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= 128,
            candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return next() }
        return candidate
    }
}
