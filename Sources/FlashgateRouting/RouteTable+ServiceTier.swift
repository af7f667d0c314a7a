import Foundation
import FlashgateCore

extension RouteTable {
    /// The tier an upstream body asks for, and the parsed body when it names one (the bytes
    /// are scanned first, so bodies without a tier are not parsed again).
    static func requestedTier(_ body: [UInt8]) -> (tier: ServiceTier, body: JSONValue?) {
        guard contains(body, "serviceTier") || contains(body, "service_tier"), let parsed = try? JSONParser.parse(body) else {
            return (.standard, nil)
        }
        return (ServiceTier.requested(in: parsed), parsed)
    }

    /// The body with both spellings of the tier field removed.
    static func withoutServiceTier(_ body: JSONValue) -> JSONValue {
        guard case .object(var object) = body else { return body }
        object["serviceTier"] = nil
        object["service_tier"] = nil
        return .object(object)
    }

    /// A byte search: `memchr` to each candidate first byte, `memcmp` for the rest.
    private static func contains(_ bytes: [UInt8], _ needle: StaticString) -> Bool {
        let count = needle.utf8CodeUnitCount
        return bytes.withUnsafeBufferPointer { haystack -> Bool in
            guard let base = haystack.baseAddress, haystack.count >= count else { return false }
            var offset = 0
            while offset <= haystack.count - count {
                guard let found = memchr(base + offset, Int32(needle.utf8Start[0]), haystack.count - count + 1 - offset) else {
                    return false
                }
                let at = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self))
                if memcmp(at, needle.utf8Start, count) == 0 { return true }
                offset = at - base + 1
            }
            return false
        }
    }
}
