import Testing
@testable import FlashgateUpstream

@Test func placeholderUpstream() { #expect(Bool(true)) }
