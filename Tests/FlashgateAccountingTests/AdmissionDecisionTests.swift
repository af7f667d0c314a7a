import FlashgateCore
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

    static func accountant(teams: [TeamConfig] = []) -> Accountant {
        var config = FlashgateConfig(routes: [])
        config.teams = teams
        return Accountant(config: config, ledger: nil, logger: Logger(label: "test"), nowMilliseconds: { 0 })
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
