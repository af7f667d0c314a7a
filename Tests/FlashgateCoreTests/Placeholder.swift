import Testing
@testable import FlashgateCore

@Test func placeholderCore() { #expect(Bool(true)) }
