import Testing
@testable import FlashgateWire

@Test func placeholderWire() { #expect(Bool(true)) }
