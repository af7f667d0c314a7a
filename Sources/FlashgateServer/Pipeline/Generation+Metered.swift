import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire
import NIOHTTP1

/// An upstream call that is not a generation — an embedding or a token count — on its way: who
/// pays, what it is, and where the answer goes.
///
/// Invariant: like a generation, every such call is admitted (identity, rate limits and, for
/// embeddings, a budget reservation at its price) before it goes upstream, and settles exactly
/// once in the ledger on every path; its row names its kind in `cacheStatus` (`embed`, `count`),
/// as these calls never use the response cache.
struct MeteredCall: Sendable {
    enum Kind: String, Sendable {
        /// `embedContent`, `batchEmbedContents`, OpenAI `/v1/embeddings`: priced per input token.
        case embed
        /// `countTokens`: free upstream, but one request against the rate limits; a $0 row.
        case count
    }

    var kind: Kind
    var caller: Caller
    var clientModel: String
    var dialect: Dialect
    var record: RequestRecord?
    var upstream: UpstreamCall

    var primary: ResolvedRoute { upstream.plan.primary }
}

extension Generation {
    /// Admits a metered call on the event loop, then makes it: refused at once (no upstream call,
    /// the refusal thrown for the edge to render) by a missing price, a rate limit or a budget;
    /// otherwise metered by `meter`.
    func metered(
        _ call: MeteredCall, body: JSONValue,
        render: @escaping @Sendable (Collected, JSONValue, _ charged: Int) throws(FlashgateError) -> GatewayResponse
    ) throws(FlashgateError) -> GatewayResult {
        try contextCaches?.checkOwnership(body: body, team: call.caller.team)
        switch admit(call, body: body) {
        case .reject(let rejected):
            call.record?.refuse(rejected.reason)
            throw rejected.error
        case .admit(let admission):
            return .deferred { [self] writer in await meter(call, admission, writer: writer, render: render) }
        }
    }

    /// Prices and admits a metered call before anything goes upstream. An embedding reserves the
    /// worst case of its Gemini `body` (strict) or its expected cost (estimate); a model without
    /// a price is refused (no price, no call). A token count takes a rate-limit ticket only.
    private func admit(_ call: MeteredCall, body: JSONValue) -> Accountant.AdmissionDecision {
        let model = call.primary.pricedModel
        switch call.kind {
        case .count:
            return accountant.admitFree(
                caller: call.caller, clientModel: call.clientModel, upstreamModel: model, route: call.primary.route.name
            )
        case .embed:
            let estimate =
                accountant.config.accounting.mode == .strict
                ? RequestCostEstimate.worstCase(embeddings: body, model: model)
                : RequestCostEstimate.expected(embeddings: body, model: model)
            if let amount = estimate.cost(accountant.prices, model: model, atMs: nowMilliseconds()) {
                let decision = accountant.admit(
                    caller: call.caller, clientModel: call.clientModel, upstreamModel: model,
                    route: call.primary.route.name, amount: amount, tokens: estimate.inputTokens)
                guard case .admit(var admission) = decision else { return decision }
                admission.estimatedMedia = estimate.media
                return .admit(admission)
            }
            return .reject(.unpriced(model: model, tier: .standard))
        }
    }

    /// Makes the call through the retry owner, settles it, and answers with `render`, which is
    /// given the upstream answer, its bytes and the input tokens charged.
    ///
    /// Settlement: an embedding answer is charged from its `usageMetadata.promptTokenCount` when
    /// it carries one, otherwise its reservation (never less than it may have cost); an upstream
    /// refusal before any answer costs $0; a call cut off (a broken answer, a client gone, a
    /// timeout) costs its reservation. A token count always writes a $0 row.
    private func meter(
        _ call: MeteredCall, _ admission: Accountant.Admission, writer: ResponseWriter,
        render: @Sendable (Collected, JSONValue, _ charged: Int) throws(FlashgateError) -> GatewayResponse
    ) async {
        var admission = admission
        if call.kind == .embed {
            do {
                try await accountant.persist(&admission)
            } catch {
                if let rejected = error as? Rejection {
                    // Refused for the ledger's sake: counted as a refusal, no row.
                    call.record?.refuse(rejected.reason)
                    accountant.release(admission)
                    await writer.respond(.error(rejected.error, dialect: call.dialect))
                    return
                }
                await settle(call, admission, usage: nil, ending: .upstreamError, attempts: [])
                await writer.respond(.error(.reservationNotRecorded, dialect: call.dialect))
                return
            }
        }
        let start = ContinuousClock.now
        // No hedges, and no attempt after one that was cut off (it may have been billed, and
        // another would need a reservation of its own); a refused one is tried again.
        let outcome = await retryOwner.run(
            call.upstream, admitNext: { _, previous in call.kind == .count || previous == .refused },
            admitHedge: { _ in false })
        call.record?.note(outcome, since: start)
        let attempts = outcome.attempts.count > 1 ? outcome.attempts.map(\.compact) : []
        let started: StartedAnswer
        switch outcome.answer {
        case .success(let answer): started = answer
        case .failure(let error):
            let refused = call.kind == .count || outcome.finalFate != .cutOff
            await settle(
                call, admission, usage: nil, ending: refused ? .upstreamError : .incomplete, attempts: attempts)
            if Task.isCancelled { return }
            await writer.respond(.error(error, dialect: call.dialect))
            return
        }
        admission.route = started.target.route.name
        admission.upstreamModel = started.target.pricedModel
        var collected = Collected(status: started.status, headers: started.headers, body: [])
        let answer: JSONValue
        do {
            while let chunk = try await started.reader.nextChunk() { collected.body += chunk }
            answer = try JSONParser.parse(collected.body)
        } catch {
            await settle(call, admission, usage: nil, ending: .incomplete, attempts: attempts)
            if Task.isCancelled || error is CancellationError { return }
            let failure =
                error is JSONParseError
                ? FlashgateError(.upstreamProtocol, "the upstream answered with invalid JSON")
                : FlashgateError(wrapping: error)
            await writer.respond(.error(failure, dialect: call.dialect))
            return
        }
        // Charged as the answer's usage says, its audio, image and video tokens at their own
        // rates (they had all been charged as text, a thirtieth of audio's price); without usage,
        // as the tokens reserved, media at theirs.
        let usage =
            TokenUsage(usageMetadata: answer["usageMetadata"])
            ?? {
                var estimated = TokenUsage()
                estimated.promptTokens = admission.estimatedTokens
                estimated.promptMedia = admission.estimatedMedia
                return estimated
            }()
        let cost = await settle(
            call, admission, usage: call.kind == .embed ? usage : nil, ending: .ok, attempts: attempts)
        do {
            var response = try render(collected, answer, usage.promptTokens)
            response.headers += [("x-flashgate-cost-usd", cost.dollars)] + accountant.headers(admission)
            await writer.respond(response)
        } catch {
            await writer.respond(.error(error, dialect: call.dialect))
        }
    }

    /// Settles once: an embedding through its reservation; a token count as a $0 row that frees
    /// its rate-limit slot. The request record gets the tokens and the cost.
    @discardableResult
    private func settle(
        _ call: MeteredCall, _ admission: Accountant.Admission, usage: TokenUsage?, ending: Accountant.Ending,
        attempts: [String]
    ) async -> MicroUSD {
        let cost: MicroUSD
        switch call.kind {
        case .embed:
            cost = await accountant.settle(
                admission, usage: usage, ending: ending, cacheStatus: call.kind.rawValue, attempts: attempts)
        case .count:
            accountant.release(admission)
            await accountant.record(
                admission.caller, model: admission.clientModel, route: admission.route, usage: nil, cost: .zero,
                cacheStatus: call.kind.rawValue, outcome: ending.rawValue, attempts: attempts)
            cost = .zero
        }
        call.record?.update { record in
            if let usage { record.note(usage) }
            record.cost = cost
        }
        return cost
    }

    /// A native answer as Gemini sent it: its status, content type and bytes.
    static func forwarded(_ answer: Collected) -> GatewayResponse {
        let type = answer.headers.value(of: "content-type") ?? "application/json"
        return GatewayResponse(
            status: HTTPResponseStatus(statusCode: answer.status), headers: [("content-type", type)], body: answer.body)
    }
}
