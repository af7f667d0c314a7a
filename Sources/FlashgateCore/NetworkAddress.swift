#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as raw bytes, classified for the media fetcher's network policy.
/// Invariant: `bytes` holds exactly 4 or 16 bytes in network order.
package struct NetworkAddress: Sendable, Equatable, CustomStringConvertible {
    package let bytes: [UInt8]

    package init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses a numeric address (`10.0.0.1`, `fe80::1`); host names are not resolved here.
    package init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    package var isIPv4: Bool { bytes.count == 4 }

    package var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }

    /// Why the address is not a public unicast one, or nil when it is. Covers loopback,
    /// unspecified, RFC 1918 private, shared (CGNAT), link-local, unique-local, multicast and
    /// broadcast; IPv4-mapped and IPv4-compatible IPv6 addresses are judged by their IPv4 part.
    package var nonPublicReason: String? {
        if isIPv4 { return Self.ipv4Reason(bytes) }
        let b = bytes
        let firstTen = b[0..<10].allSatisfy { $0 == 0 }
        if firstTen && b[10] == 0xff && b[11] == 0xff { return Self.ipv4Reason(Array(b[12..<16])) }  // ::ffff:a.b.c.d
        if b[0..<15].allSatisfy({ $0 == 0 }) {
            if b[15] == 0 { return "an unspecified address" }
            if b[15] == 1 { return "a loopback address" }
        }
        if firstTen && b[10] == 0 && b[11] == 0 { return Self.ipv4Reason(Array(b[12..<16])) }  // ::a.b.c.d (deprecated)
        if b[0] & 0xfe == 0xfc { return "a unique-local address" }  // fc00::/7
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return "a link-local address" }  // fe80::/10
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return "a site-local address" }  // fec0::/10 (deprecated)
        if b[0] == 0xff { return "a multicast address" }
        // NAT64 (64:ff9b::/96) embeds an IPv4 address the gateway would reach for us.
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..<12].allSatisfy({ $0 == 0 }) {
            return Self.ipv4Reason(Array(b[12..<16]))
        }
        return nil
    }

    package var isPublic: Bool { nonPublicReason == nil }

    private static func ipv4Reason(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "an unspecified address"  // 0.0.0.0/8
        case (127, _): return "a loopback address"
        case (10, _), (172, 16...31), (192, 168): return "a private address"
        case (100, 64...127): return "a shared (carrier-grade NAT) address"
        case (169, 254): return "a link-local address"
        case (224...239, _): return "a multicast address"
        case (255, 255) where b[2] == 255 && b[3] == 255: return "the broadcast address"
        default: return nil
        }
    }
}
