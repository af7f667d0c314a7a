import Testing
@testable import FlashgateServer

@Test func placeholderServer() { #expect(Bool(true)) }
