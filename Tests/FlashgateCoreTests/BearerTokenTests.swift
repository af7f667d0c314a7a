import Testing

@testable import FlashgateCore

@Suite struct BearerTokenTests {
    @Test func theSchemeIsMatchedInAnyCaseAndABareValueIsTakenWhole() {
        #expect(BearerToken.parse("Bearer sk-1") == "sk-1")
        #expect(BearerToken.parse("bearer sk-1") == "sk-1")
        #expect(BearerToken.parse("BEARER sk-1") == "sk-1")
        #expect(BearerToken.parse("sk-1") == "sk-1")
        #expect(BearerToken.parse(nil) == nil)
    }
}
