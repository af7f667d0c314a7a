import Testing

@testable import FlashgateCore

@Suite struct CircuitBreakerTests {
    let config = CircuitBreakerConfig(
        consecutiveFailures: 3, window: 10, failureRatePercent: 50, coolDown: .seconds(30), halfOpenProbes: 1)

    func at(_ seconds: Int64) -> ManualInstant { ManualInstant(nanos: seconds * 1_000_000_000) }

    @Test func opensAfterConsecutiveFailuresAndSkipsWhileOpen() {
        var breaker = CircuitBreaker<ManualInstant>(config: config)
        for _ in 0..<2 { breaker.recordFailure(now: at(0)) }
        #expect(breaker.state(now: at(0)) == .closed)
        let allowed1 = breaker.allow(now: at(0))
        #expect(allowed1)
        breaker.recordFailure(now: at(1))
        #expect(breaker.state(now: at(1)) == .open)
        let allowed2 = breaker.allow(now: at(1))
        #expect(!allowed2)
        let allowed3 = breaker.allow(now: at(30))
        #expect(!allowed3)
        #expect(breaker.state(now: at(30)) == .open)
    }

    @Test func successResetsTheConsecutiveCount() {
        var breaker = CircuitBreaker<ManualInstant>(config: config)
        for _ in 0..<2 { breaker.recordFailure(now: at(0)) }
        breaker.recordSuccess(now: at(0))
        for _ in 0..<2 { breaker.recordFailure(now: at(0)) }
        #expect(breaker.state(now: at(0)) == .closed)
    }

    @Test func halfOpensAfterCoolDownAndClosesOnSuccessfulProbe() {
        var breaker = opened(at: 0)
        #expect(breaker.state(now: at(31)) == .halfOpen)
        let allowed4 = breaker.allow(now: at(31))
        #expect(allowed4)
        let allowed5 = breaker.allow(now: at(31))
        #expect(!allowed5, "one probe at a time")
        breaker.recordSuccess(now: at(32))
        #expect(breaker.state(now: at(32)) == .closed)
        let allowed6 = breaker.allow(now: at(32))
        let allowed7 = breaker.allow(now: at(32))
        #expect(allowed6 && allowed7)
        for _ in 0..<2 { breaker.recordFailure(now: at(33)) }
        #expect(breaker.state(now: at(33)) == .closed, "closing forgets the old failures")
    }

    /// A half-open probe answered with the request's own fault (a 400) said nothing about the
    /// route; its slot is freed, so the next call probes at once instead of a cool-down later.
    @Test func aProbeThatEndsInAClientErrorFreesItsSlot() {
        var breaker = opened(at: 0)
        let probe = breaker.allow(now: at(31))
        #expect(probe)
        breaker.recordNeutral()
        #expect(breaker.state(now: at(32)) == .halfOpen)
        let next = breaker.allow(now: at(32))
        #expect(next, "the next call is the probe")
        let another = breaker.allow(now: at(32))
        #expect(!another, "still one probe at a time")
        breaker.recordSuccess(now: at(33))
        #expect(breaker.state(now: at(33)) == .closed)
        // Closed or open, a neutral outcome changes nothing.
        breaker.recordNeutral()
        #expect(breaker.state(now: at(33)) == .closed)
    }

    @Test func failedProbeReopens() {
        var breaker = opened(at: 0)
        let allowed8 = breaker.allow(now: at(31))
        #expect(allowed8)
        breaker.recordFailure(now: at(32))
        #expect(breaker.state(now: at(32)) == .open)
        let allowed9 = breaker.allow(now: at(61))
        #expect(!allowed9)
        let allowed10 = breaker.allow(now: at(62))
        #expect(allowed10)
    }

    @Test func upstreamRetryDelaySetsTheCoolDown() {
        var breaker = CircuitBreaker<ManualInstant>(config: config)
        for _ in 0..<3 { breaker.recordFailure(retryDelay: .seconds(7), now: at(0)) }
        let allowed11 = breaker.allow(now: at(6))
        #expect(!allowed11)
        #expect(breaker.state(now: at(7)) == .halfOpen)
        let allowed12 = breaker.allow(now: at(7))
        #expect(allowed12)
        breaker.recordFailure(retryDelay: .seconds(2), now: at(8))
        let allowed13 = breaker.allow(now: at(9))
        #expect(!allowed13)
        let allowed14 = breaker.allow(now: at(10))
        #expect(allowed14)
    }

    @Test func laterLongerDelayKeepsItOpenLonger() {
        var breaker = opened(at: 0)
        breaker.recordFailure(retryDelay: .seconds(100), now: at(10))
        #expect(breaker.state(now: at(50)) == .open)
        breaker.recordFailure(retryDelay: .seconds(1), now: at(60))
        #expect(breaker.state(now: at(109)) == .open)
        #expect(breaker.state(now: at(110)) == .halfOpen)
    }

    @Test func halfOpenLetsKProbesThrough() {
        var breaker = CircuitBreaker<ManualInstant>(
            config: CircuitBreakerConfig(consecutiveFailures: 1, coolDown: .seconds(5), halfOpenProbes: 3))
        breaker.recordFailure(now: at(0))
        let probes = (0..<5).map { _ in breaker.allow(now: at(5)) }
        #expect(probes == [true, true, true, false, false])
    }

    @Test func errorRateOverTheWindowOpens() {
        var breaker = CircuitBreaker<ManualInstant>(config: config)
        // Alternating: never three in a row, and 5 of 10 is not over 50 %.
        for i in 0..<10 {
            if i % 2 == 1 { breaker.recordFailure(now: at(0)) } else { breaker.recordSuccess(now: at(0)) }
        }
        #expect(breaker.state(now: at(0)) == .closed)
        // The window slides: the oldest success drops out, the sixth failure of the last ten opens it.
        breaker.recordFailure(now: at(1))
        #expect(breaker.state(now: at(1)) == .open)
    }

    @Test func rateNeedsAFullWindow() {
        var breaker = CircuitBreaker<ManualInstant>(
            config: CircuitBreakerConfig(consecutiveFailures: 100, window: 4, failureRatePercent: 50))
        breaker.recordFailure(now: at(0))
        breaker.recordFailure(now: at(0))
        #expect(breaker.state(now: at(0)) == .closed)
        breaker.recordSuccess(now: at(0))
        breaker.recordFailure(now: at(0))
        #expect(breaker.state(now: at(0)) == .open)
    }

    @Test func routesAreIndependent() {
        let breakers = RouteBreakers(config: config)
        let at = { (seconds: Int64) in Tick(.seconds(seconds)) }
        #expect(!breakers.recordFailure("studio", now: at(0)))
        #expect(!breakers.recordFailure("studio", now: at(0)))
        #expect(breakers.recordFailure("studio", retryDelay: .seconds(4), now: at(0)))
        #expect(!breakers.allow("studio", now: at(1)))
        #expect(breakers.allow("vertex-eu", now: at(1)))
        #expect(breakers.states(now: at(1)) == ["studio": .open, "vertex-eu": .closed])
        #expect(breakers.allow("studio", now: at(4)))
        breakers.recordSuccess("studio", now: at(4))
        #expect(breakers.state("studio", now: at(4)) == .closed)
        #expect(breakers.state("unknown", now: at(4)) == .closed)
    }

    @Test func aProbeWithNoOutcomeFreesItsSlotAfterACoolDown() {
        var breaker = opened(at: 0)
        let probe = breaker.allow(now: at(30))
        let second = breaker.allow(now: at(59))
        let afterCoolDown = breaker.allow(now: at(60))
        #expect(probe && !second && afterCoolDown)
        #expect(breaker.state(now: at(60)) == .halfOpen)
    }

    @Test func onlyRetryableFailuresCountAgainstARoute() {
        let breakers = RouteBreakers(config: config)
        let at = { (seconds: Int64) in Tick(.seconds(seconds)) }
        let badRequest = UpstreamFailure(status: 400, body: GoogleErrorBody.status(400, "INVALID_ARGUMENT"))
        for _ in 0..<5 { #expect(!breakers.record(badRequest, route: "studio", now: at(0))) }
        #expect(breakers.state("studio", now: at(0)) == .closed)
        let limited = UpstreamFailure(status: 429, body: GoogleErrorBody.quota(retryDelay: "3s", quotaId: "PerMinute"))
        let opens = (0..<3).map { _ in breakers.record(limited, route: "studio", now: at(0)) }
        #expect(opens == [false, false, true])
        #expect(breakers.state("studio", now: at(2)) == .open)
        #expect(breakers.state("studio", now: at(3)) == .halfOpen)
        // A probe answered with the request's own 400: the route answered, the next call probes.
        #expect(breakers.allow("studio", now: at(3)))
        #expect(!breakers.allow("studio", now: at(3)))
        #expect(!breakers.record(badRequest, route: "studio", now: at(3)))
        #expect(breakers.allow("studio", now: at(3)), "the probe's slot was held for a cool-down")
    }

    private func opened(at seconds: Int64) -> CircuitBreaker<ManualInstant> {
        var breaker = CircuitBreaker<ManualInstant>(config: config)
        for _ in 0..<3 { breaker.recordFailure(now: at(seconds)) }
        return breaker
    }
}
