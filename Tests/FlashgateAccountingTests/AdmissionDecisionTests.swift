import FlashgateCore
import FlashgateTesting
import Logging
import Testing

@testable import FlashgateAccounting

/// `Accountant.admit` and `admitFree` decide with an `AdmissionDecision`: no price, no call; a
/// rate limit refuses before any budget is reserved; a free call takes a request, never a budget.
/// The server's `MoneyPathTests` and `MeteredCallsTests` run the same decisions end to end.
@Suite struct AdmissionDecisionTests {
    static let body: JSONValue = .object([
        "contents": .array([.object(["role": .string("user"), "parts": .array([.object(["text": .string("hi")])])])])
    ])

    static func accountant(teams: [TeamConfig] = [], clock: any RetryClock = ManualRetryClock()) -> Accountant {
        var config = FlashgateConfig(routes: [])
        config.teams = teams
        return Accountant(
            config: config, ledger: nil, logger: Logger(label: "test"), nowMilliseconds: { 0 }, clock: clock)
    }

    /// A call cut off without usage keeps its token estimate in the TPM bucket, as it keeps its
    /// money (it may have been billed); one refused before generating gives it back. Every
    /// cut-off call had given its whole estimate back, so a client that kept dropping its
    /// streams went past its TPM.
    @Test func aCutOffCallKeepsItsTokensARefusedOneGivesThemBack() async {
        var team = TeamConfig(id: "search")
        team.limits = RateLimits(tokensPerMinute: 1_500)
        for (ending, admitsAfter) in [(Accountant.Ending.incomplete, false), (.upstreamError, true)] {
            let accountant = Self.accountant(teams: [team])
            func admit() -> Accountant.Admission? {
                if case .admit(let admission) = accountant.admit(
                    caller: Caller(team: "search"), clientModel: "m", upstreamModel: "m", route: "r", amount: .zero,
                    tokens: 1_000)
                {
                    return admission
                }
                return nil
            }
            guard let first = admit() else {
                Issue.record("refused")
                return
            }
            await accountant.settle(first, usage: nil, ending: ending, cacheStatus: "miss")
            #expect((admit() != nil) == admitsAfter, "\(ending)")
        }
    }

    /// `x-ratelimit-*` tell of the bucket that will refuse first: a key at 100 RPM in a team at
    /// 10 says 10 and what the team has left, not the key's 100 (clients pacing by the headers
    /// met 429s they had not been warned of).
    @Test func theRateLimitHeadersTellOfTheTightestBucket() {
        var team = TeamConfig(id: "search")
        team.limits = RateLimits(requestsPerMinute: 10)
        var config = FlashgateConfig(routes: [])
        config.teams = [team]
        var key = KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex("sk-ci"))
        key.limits = RateLimits(requestsPerMinute: 100)
        config.keys = [key]
        let accountant = Accountant(
            config: config, ledger: nil, logger: Logger(label: "test"), nowMilliseconds: { 0 }, clock: ManualRetryClock())
        let caller = Caller(team: "search", key: "ci")
        for expected in [9, 8, 7] {
            guard
                case .admit(let admission) = accountant.admit(
                    caller: caller, clientModel: "m", upstreamModel: "m", route: "r", amount: .zero, tokens: 10)
            else {
                Issue.record("refused")
                return
            }
            let headers = Dictionary(accountant.headers(admission), uniquingKeysWith: { a, _ in a })
            #expect(headers["x-ratelimit-limit-requests"] == "10")
            #expect(headers["x-ratelimit-remaining-requests"] == String(expected))
        }
    }

    /// The rate limiter refills on the injected clock, not the wall: a spent bucket stays spent
    /// while the manual clock stands still, and refills exactly when it moves.
    @Test func theRateLimiterRefillsOnTheInjectedClock() {
        var team = TeamConfig(id: "search")
        team.limits = RateLimits(requestsPerMinute: 2)
        let clock = ManualRetryClock()
        let accountant = Self.accountant(teams: [team], clock: clock)
        let caller = Caller(team: "search")
        func admit() -> Bool {
            if case .admit = accountant.admitFree(
                caller: caller, clientModel: "gemini-3.5-flash", upstreamModel: "gemini-3.5-flash", route: "studio")
            {
                return true
            }
            return false
        }
        #expect(admit() && admit())
        #expect(!admit())
        clock.advance(by: .seconds(29))
        #expect(!admit(), "29 s refill less than one request at 2 per minute")
        clock.advance(by: .seconds(1))
        #expect(admit(), "30 s refill one request")
        #expect(!admit())
    }

    @Test func aPricedModelIsAdmittedAtItsPrice() throws {
        let decision = Self.accountant().admit(
            caller: Caller(team: Caller.defaultTeam), clientModel: "gemini-3.5-flash",
            upstreamModel: "gemini-3.5-flash", route: "studio", body: Self.body)
        guard case .admit(let admission) = decision else {
            Issue.record("refused: \(decision)")
            return
        }
        #expect(admission.amount > .zero)
        #expect(admission.route == "studio")
    }

    @Test func aModelWithoutAPriceIsRejected() {
        let decision = Self.accountant().admit(
            caller: Caller(team: Caller.defaultTeam), clientModel: "no-such-model", upstreamModel: "no-such-model",
            route: "studio", body: Self.body)
        guard case .reject(let rejection) = decision else {
            Issue.record("admitted")
            return
        }
        #expect(rejection.limit == .price)
    }

    @Test func theRateLimitRejectsBeforeTheBudget() {
        var team = TeamConfig(id: "search")
        team.limits = RateLimits(requestsPerMinute: 1)
        let accountant = Self.accountant(teams: [team])
        let caller = Caller(team: "search")
        let first = accountant.admitFree(
            caller: caller, clientModel: "gemini-3.5-flash", upstreamModel: "gemini-3.5-flash", route: "studio")
        guard case .admit(let admission) = first else {
            Issue.record("refused: \(first)")
            return
        }
        #expect(admission.amount == .zero)
        let second = accountant.admit(
            caller: caller, clientModel: "gemini-3.5-flash", upstreamModel: "gemini-3.5-flash", route: "studio",
            body: Self.body)
        guard case .reject(let rejection) = second else {
            Issue.record("admitted")
            return
        }
        #expect(rejection.limit == .rateLimit)
    }
}
