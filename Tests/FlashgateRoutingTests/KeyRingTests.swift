import FlashgateCore
import Testing

@testable import FlashgateRouting

/// A route's key ring.
@Suite struct KeyRingTests {
    /// A key index from before a reload that gave the route fewer keys (a context cache made
    /// with its third key, then a ring of two) is no key of the new ring: setting it aside
    /// changes nothing. It had indexed past the ring and trapped, taking the gateway down.
    @Test func anIndexPastTheRingIsNoKey() {
        let ring = KeyRing(count: 2)
        let now = Tick.zero
        #expect(ring.setAside(2, until: now.advanced(by: .seconds(60)), now: now))
        #expect(ring.available(now: now) == 2)
        #expect(ring.current(now: now) == 0)
        #expect(ring.setAside(0, until: now.advanced(by: .seconds(60)), now: now))
        #expect(ring.current(now: now) == 1)
    }
}
