import Testing
@testable import FlashgateStorage

@Test func placeholderStorage() { #expect(Bool(true)) }
