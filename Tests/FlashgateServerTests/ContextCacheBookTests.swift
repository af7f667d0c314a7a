import FlashgateCore
import Testing

@testable import FlashgateServer

/// The book counts one request's reads of its candidate prefixes together. Counted one by one,
/// concurrent first requests could see the longer candidate with fewer reads than the shorter
/// (another request between a request's two counts), judge the shorter one alone worth a cache,
/// and create both: `ContextCacheLeadingTests.concurrentFirstRequestsWithBothCandidatesCreateOneCache`
/// once failed so under a loaded run of the whole suite.
@Suite struct ContextCacheBookTests {
    @Test func concurrentRequestsSeeTheirCandidatesCountedTogether() async {
        let book = ContextCacheBook()
        var uneven = 0
        for round in 0..<200 {
            let base = CacheKey(digest: [0, UInt8(round % 256), UInt8(round / 256)])
            let extended = CacheKey(digest: [1, UInt8(round % 256), UInt8(round / 256)])
            let views = await withTaskGroup(of: [ContextCachePlanner.Traffic].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        book.read(
                            [.init(key: base, tokens: 1_000), .init(key: extended, tokens: 5_000)], nowMs: 1_000,
                            window: .seconds(3_600))
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            uneven += views.filter { $0[0].reads != $0[1].reads }.count
            #expect(Set(views.map { $0[1].reads }) == Set(1...8), "each request counted once")
        }
        #expect(uneven == 0)
    }
}
