import FlashgateCore
import FlashgateTesting
import Logging
import Synchronization
import Testing

@testable import FlashgateRouting

/// What a hedge that did not serve the request owes: nothing when it was cancelled before its
/// request reached the transport (the first attempt won while the hedge was being admitted), its
/// reservation when it may have been sent.
@Suite struct HedgeFateTests {
    /// Counts what it is asked to send; answers nothing.
    final class CountingTransport: UpstreamTransport {
        let sends = Atomic<Int>(0)
        func send(_ request: UpstreamRequest) -> UpstreamResponse {
            sends.add(1, ordering: .relaxed)
            return UpstreamResponse(AsyncThrowingStream { $0.finish() })
        }
    }

    @Test func aHedgeCancelledBeforeItWasSentOwesNothing() async throws {
        let transport = CountingTransport()
        let route = RouteConfig(
            name: "r1", kind: .gemini, baseURL: "http://127.0.0.1:1", apiKey: Secret("k"), passthrough: false)
        let table = RouteTable(
            config: FlashgateConfig(
                routes: [route], models: [ModelConfig(id: "flash", route: "r1", upstreamModel: "gemini-3.5-flash")]),
            http: transport)
        let owner = RetryOwner(
            routes: table,
            health: RouteHealth(breaker: CircuitBreakerConfig(), clock: ManualRetryClock(), wallMs: { 0 }),
            policy: RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60)),
            logger: Logger(label: "test"), random: SeededRandom(seed: 1), wallSeconds: { 0 })
        let target = ResolvedRoute(route: route, upstreamModel: "gemini-3.5-flash", transport: transport)
        let call = UpstreamCall(
            plan: try table.plan(model: "flash"), method: .generateContent, sse: false, start: .head,
            body: { _ in Array("{}".utf8) })
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await owner.attempt(target, call, hedge: true)
        }
        let result = await cancelled.value
        #expect(result.record.sent == false)
        #expect(result.record.outcome == .cancelled)
        #expect(transport.sends.load(ordering: .relaxed) == 0)
        #expect(RetryOwner.fate(of: result) == HedgeLoser(route: "r1", fate: .refused))

        // Sent, then cut off: it may have been billed.
        var sentRecord = result.record
        sentRecord.sent = true
        let cut = RetryOwner.AttemptResult.failed(RetryOwner.cancelled, UpstreamFailure(RetryOwner.cancelled), sentRecord, keyIndex: nil)
        #expect(RetryOwner.fate(of: cut) == HedgeLoser(route: "r1", fate: .cutOff))
    }
}
