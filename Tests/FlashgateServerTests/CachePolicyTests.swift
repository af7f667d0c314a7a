import NIOHTTP1
import Testing

@testable import FlashgateServer

@Suite struct CachePolicyTests {
    private func policy(_ values: [String], enabled: Bool = true) -> CachePolicy {
        CachePolicy(headers: HTTPHeaders(values.map { ("Cache-Control", $0) }), enabled: enabled)
    }

    @Test func directivesInListsAnyCaseAndSpacing() {
        #expect(policy(["no-store"]).bypass)
        #expect(policy(["NO-STORE"]).bypass)
        #expect(policy(["max-age=0,  No-Store\t"]).bypass)
        #expect(policy(["max-age=0", " no-store "]).bypass)
        let fresh = policy(["private, no-cache"])
        #expect(!fresh.lookup && fresh.store && fresh.coalesce)
        #expect(policy(["no-cache", "no-store"]).bypass)
    }

    @Test func otherDirectivesAndLookalikesChangeNothing() {
        for value in ["", ",", " , ", "no-stored", "xno-store", "no-store=1", "no", "max-age=10", "no-cache2"] {
            let p = policy([value])
            #expect(p.lookup && p.store && p.coalesce, "\(value)")
        }
        let none = CachePolicy(headers: HTTPHeaders([("pragma", "no-store")]), enabled: true)
        #expect(none.lookup && none.store && none.coalesce)
    }

    @Test func aDisabledCacheIsBypassedWhateverTheHeaders() {
        #expect(policy([], enabled: false).bypass)
        #expect(policy(["no-cache"], enabled: false).bypass)
    }
}
