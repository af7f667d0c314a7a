import Testing

@testable import FlashgateCore

/// The media fetcher's network policy: which resolved addresses are refused by default.
@Suite struct NetworkAddressTests {
    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
        ("10.0.0.1", "private"), ("10.255.255.255", "private"),
        ("172.16.0.1", "private"), ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fc00::1", "unique-local"), ("fd12:3456::1", "unique-local"),
        ("fe80::1", "link-local"), ("febf::1", "link-local"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"), ("64:ff9b::a9fe:a9fe", "link-local"),
        ("100.64.0.1", "carrier-grade"), ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"), ("fec0::1", "site-local"),
    ])
    func nonPublicAddressesAreRefused(text: String, kind: String) throws {
        let address = try #require(NetworkAddress(text))
        #expect(!address.isPublic)
        #expect(address.nonPublicReason?.contains(kind) == true, "\(text): \(address.nonPublicReason ?? "public")")
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "192.169.0.1", "169.253.1.1", "100.128.0.1",
        "2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8",
    ])
    func publicAddressesAreAllowed(text: String) throws {
        let address = try #require(NetworkAddress(text))
        #expect(address.isPublic, "\(text): \(address.nonPublicReason ?? "")")
    }

    @Test func parsingAndPrinting() {
        #expect(NetworkAddress("example.com") == nil)
        #expect(NetworkAddress("300.1.1.1") == nil)
        #expect(NetworkAddress(bytes: [1, 2, 3]) == nil)
        #expect(NetworkAddress("10.1.2.3")?.description == "10.1.2.3")
        #expect(NetworkAddress("fe80::1")?.description == "fe80:0:0:0:0:0:0:1")
    }
}
