import FlashgateTesting
import Testing

@testable import FlashgateCore

/// Drives a `RetryLoop` the way the upstream caller will, on a manual clock: each attempt's start
/// time and route are recorded, and waits only move the virtual clock.
struct RetryDriver {
    struct Attempt: Equatable {
        var route: Int
        var start: ManualInstant
    }

    enum Outcome: Equatable {
        case succeeded
        case gaveUp(RetryDecision.GiveUpReason)
        case routesExhausted
    }

    var loop: RetryLoop
    var routes = 1
    var attempts: [Attempt] = []

    init(_ policy: RetryPolicy, routes: Int = 1) {
        loop = RetryLoop(policy: policy)
        self.routes = routes
    }

    /// `answer` gives the attempt's result: `nil` = success.
    mutating func run(
        seed: UInt64, breakerOpen: (Int) -> Bool = { _ in false }, answer: (Attempt, Int) -> UpstreamFailure?
    ) -> Outcome {
        var random = SeededRandom(seed: seed)
        var now = ManualInstant.zero
        var route = 0
        while true {
            let attempt = Attempt(route: route, start: now)
            attempts.append(attempt)
            guard let failure = answer(attempt, attempts.count) else { return .succeeded }
            let decision = loop.next(
                after: failure, attempt: attempts.count, elapsed: ManualInstant.zero.duration(to: now),
                routeOpen: breakerOpen(route), random: &random)
            switch decision {
            case .retrySameRoute(let delay): now = now.advanced(by: delay)
            case .failOver:
                route += 1
                if route == routes { return .routesExhausted }
            case .giveUp(let reason): return .gaveUp(reason)
            }
        }
    }
}

@Suite struct RetryLoopTests {
    let policy = RetryPolicy(
        maxAttempts: 4, baseDelay: .milliseconds(100), maxDelay: .seconds(10), deadline: .seconds(60))

    @Test func rateLimitWaitsAtLeastTheRetryDelay() {
        let limited = UpstreamFailure(status: 429, body: GoogleErrorBody.quota(retryDelay: "3s", quotaId: "PerMinute"))
        for seed in UInt64(0)..<200 {
            var driver = RetryDriver(policy)
            let outcome = driver.run(seed: seed) { _, n in n == 1 ? limited : nil }
            #expect(outcome == .succeeded)
            #expect(driver.attempts.count == 2)
            #expect(driver.attempts[1].start.nanos >= 3_000_000_000)
        }
    }

    @Test func twoServerErrorsThenSuccessWithinBudget() {
        let failure = UpstreamFailure(status: 500, body: GoogleErrorBody.status(500, "INTERNAL"))
        var driver = RetryDriver(policy)
        let outcome = driver.run(seed: 7) { _, n in n <= 2 ? failure : nil }
        #expect(outcome == .succeeded)
        #expect(driver.attempts.count == 3)
        #expect(driver.attempts.allSatisfy { $0.route == 0 })
    }

    @Test func perDayQuotaFailsOverWithoutWaiting() {
        let daily = UpstreamFailure(
            status: 429, body: GoogleErrorBody.quota(retryDelay: "30s", quotaId: "RequestsPerDay"))
        var driver = RetryDriver(policy, routes: 2)
        let outcome = driver.run(seed: 1) { attempt, _ in attempt.route == 0 ? daily : nil }
        #expect(outcome == .succeeded)
        #expect(driver.attempts == [.init(route: 0, start: .zero), .init(route: 1, start: .zero)])
    }

    @Test func openBreakerFailsOver() {
        var random = SeededRandom(seed: 3)
        let decision = RetryLoop(policy: policy).next(
            after: .unreachable, attempt: 1, elapsed: .zero, routeOpen: true, random: &random)
        #expect(decision == .failOver)
    }

    @Test func badRequestIsNotRetried() {
        var driver = RetryDriver(policy, routes: 3)
        let outcome = driver.run(seed: 1) { _, _ in
            UpstreamFailure(status: 400, body: GoogleErrorBody.status(400, "INVALID_ARGUMENT"))
        }
        #expect(outcome == .gaveUp(.notRetryable))
        #expect(driver.attempts.count == 1)
    }

    @Test func attemptsNeverExceedTheBudget() {
        let pool: [UpstreamFailure?] = [
            nil, .unreachable, .timeout,
            UpstreamFailure(status: 500, body: [UInt8]()),
            UpstreamFailure(status: 503, body: [UInt8](), retryAfter: "2"),
            UpstreamFailure(status: 429, body: GoogleErrorBody.quota(retryDelay: "1.5s", quotaId: "PerMinute")),
            UpstreamFailure(status: 429, body: GoogleErrorBody.quota(quotaId: "PerDay")),
        ]
        for seed in UInt64(0)..<1_000 {
            var script = SeededRandom(seed: seed &* 31)
            let budget = Int.random(in: 1...6, using: &script)
            let deadline = Duration.seconds(Int.random(in: 1...30, using: &script))
            let policy = RetryPolicy(
                maxAttempts: budget, baseDelay: .milliseconds(200), maxDelay: .seconds(5), deadline: deadline)
            let answers = (0..<10).map { _ in pool.randomElement(using: &script)! }
            let opens = (0..<10).map { _ in Int.random(in: 0..<8, using: &script) == 0 }
            var driver = RetryDriver(policy, routes: Int.random(in: 1...3, using: &script))
            _ = driver.run(seed: seed, breakerOpen: { opens[$0] }, answer: { _, n in answers[n - 1] })
            #expect(driver.attempts.count <= budget, "seed \(seed)")
            #expect(driver.attempts.allSatisfy { $0.start.nanos <= Int64(deadline.components.seconds) * 1_000_000_000 })
        }
    }

    @Test func jitterStaysWithinBounds() {
        let loop = RetryLoop(policy: policy)
        for attempt in 1...12 {
            let ceiling = loop.backoffCeiling(after: attempt)
            #expect(ceiling == min(Duration.milliseconds(100) * (1 << (attempt - 1)), Duration.seconds(10)))
            var low = 0
            var high = 0
            for seed in UInt64(0)..<500 {
                var random = SeededRandom(seed: seed)
                let delay = loop.backoff(after: attempt, random: &random)
                #expect(delay >= .zero && delay <= ceiling)
                if delay < ceiling / 2 { low += 1 } else { high += 1 }
            }
            #expect(low > 150 && high > 150, "full jitter spreads over the whole range")
        }
        #expect(loop.backoffCeiling(after: 10_000) == .seconds(10))
    }

    @Test func deadlineCapsDelays() {
        let loop = RetryLoop(
            policy: RetryPolicy(
                maxAttempts: 10, baseDelay: .seconds(20), maxDelay: .seconds(20), deadline: .seconds(10)))
        for seed in UInt64(0)..<100 {
            var random = SeededRandom(seed: seed)
            let decision = loop.next(after: .timeout, attempt: 1, elapsed: .seconds(9), random: &random)
            guard case .retrySameRoute(let delay) = decision else {
                Issue.record("expected a retry, got \(decision)")
                continue
            }
            #expect(delay <= .seconds(1))
        }
        var random = SeededRandom(seed: 0)
        let slow = UpstreamFailure(status: 429, body: GoogleErrorBody.quota(retryDelay: "5s", quotaId: "PerMinute"))
        #expect(
            loop.next(after: slow, attempt: 1, elapsed: .seconds(8), random: &random)
                == .giveUp(.retryDelayBeyondDeadline(.seconds(5))))
        #expect(
            loop.next(after: .timeout, attempt: 1, elapsed: .seconds(10), random: &random) == .giveUp(.deadlineExceeded)
        )
    }

    @Test func upstreamDelayAboveMaxDelayIsStillHonoured() {
        var random = SeededRandom(seed: 9)
        let failure = UpstreamFailure(status: 429, body: GoogleErrorBody.quota(retryDelay: "36s", quotaId: "PerMinute"))
        #expect(
            RetryLoop(policy: policy).next(after: failure, attempt: 1, elapsed: .zero, random: &random)
                == .retrySameRoute(after: .seconds(36)))
    }
}
