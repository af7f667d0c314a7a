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

    private static func contains(_ bytes: [UInt8], _ needle: StaticString) -> Bool {
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard bytes.count >= pattern.count else { return false }
        return bytes.withUnsafeBufferPointer { haystack in
            var i = 0
            while i <= haystack.count - pattern.count {
                if haystack[i] == pattern[0] && memcmp(haystack.baseAddress! + i, pattern.baseAddress!, pattern.count) == 0 {
                    return true
                }
                i += 1
            }
            return false
        }
    }
}
