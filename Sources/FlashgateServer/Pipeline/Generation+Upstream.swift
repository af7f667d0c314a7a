import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire
import Synchronization

/// The leader's side of a generation: its one upstream call through the retry owner, a hedge's own
/// admission, and the settlement of every attempt, so each flight is paid for exactly once.
extension Generation {
    /// The one upstream call of a flight, made through the retry owner: publishes each Gemini
    /// event as it arrives, stores a complete successful answer, and ends the flight with the
    /// outcome every subscriber sees.
    func pump(
        _ flight: Flight, _ call: GenerateCall, _ admission: Accountant.Admission, cacheOutcome: CacheOutcome,
        inTable: Bool
    ) async {
        // The flight stays joinable until its answer is in the cache, so no request falls into
        // the gap between the two and goes upstream again.
        var handedOver = false
        defer { if inTable && !handedOver, let key = call.key { flights.remove(key, flight) } }
        let hedge = HedgeAdmission()
        let admissions = AttemptAdmissions(admission)
        let start = ContinuousClock.now
        // A prefix with a live context cache goes out on it, on the cache's route.
        var upstream = call.upstream
        let prefixes = contextCaches?.prefix(call)
        if let prefixes { upstream.contextCache = contextCaches?.use(prefixes) }
        let outcome = await retryOwner.run(
            upstream,
            admitNext: { [self] target, previous in
                await admitNext(target, after: previous, call, admissions, cacheStatus: cacheOutcome.rawValue)
            },
            admitHedge: { [self] twin in await admitHedge(twin, call, into: hedge) })
        call.record?.note(outcome, since: start)
        // Each earlier attempt that was cut off (it may have been billed) is charged the
        // reservation taken for it.
        for owed in admissions.takeOwed() {
            await accountant.settle(
                owed, usage: nil, ending: .incomplete, cacheStatus: cacheOutcome.rawValue,
                attempts: outcome.attempts.map(\.compact))
        }
        var admission = admissions.current
        if var extra = hedge.take() {
            // The hedge's reservation was taken at the hedge's model. When the hedge served the
            // request, it pays for the answer and the first attempt's own reservation for the
            // loser; otherwise it pays for the hedge, which lost.
            let loser = outcome.hedgeLoser
            var paysForLoser = extra
            if let loser, loser.route != extra.route, case .success = outcome.answer {
                paysForLoser = admission
                admission = extra
            }
            if let loser { paysForLoser.route = loser.route }
            await accountant.settle(
                paysForLoser, usage: nil, ending: loser.map { Accountant.Ending($0.fate) } ?? .incomplete,
                cacheStatus: cacheOutcome.rawValue,
                attempts: outcome.attempts.map(\.compact))
        }
        logAttempts(outcome.attempts)
        // A row lists its attempts when there was more than one.
        let attempts = outcome.attempts.count > 1 ? outcome.attempts.map(\.compact) : []
        var assembler = GeminiAnswerAssembler()
        var refused = false
        do {
            let started: StartedAnswer
            switch outcome.answer {
            case .success(let answer): started = answer
            case .failure(let error):
                // The reservation left covers only the last attempt (each one cut off before it
                // was charged above): it owes nothing unless that one was cut off too.
                refused = outcome.finalFate != .cutOff
                throw error
            }
            admission.route = started.target.route.name
            admission.upstreamModel = started.target.pricedModel
            let issuer = started.target
            if let first = started.first { publish(first, flight, &assembler, call: call, route: issuer) }
            while let event = try await started.reader.next() {
                publish(event, flight, &assembler, call: call, route: issuer)
            }
            // Usage and cost read the answer as it came when it came whole in one
            // event; the cache entry stores its assembled form.
            let answer = assembler.readable
            let usage = TokenUsage(answer: answer)
            if let prefixes, let usage, assembler.isCompleteSuccess {
                contextCaches?.observe(prefixes, usage: usage, use: upstream.contextCache, served: started.target, call)
            }
            if call.policy.store, let key = call.key, assembler.isCompleteSuccess, let cache, call.ttl > .zero {
                let now = nowMilliseconds()
                let cost =
                    usage.flatMap { accountant.prices.cost($0.billable, model: started.target.pricedModel) } ?? .zero
                let counts = usage ?? TokenUsage()
                handedOver = inTable
                let flights = self.flights
                let entry = CacheEntry(
                    body: JSONWriter.encode(assembler.response), team: call.cacheTeam, model: call.clientModel,
                    createdAtMs: now, expiresAtMs: call.ttl.expiry(after: now), costMicroUSD: cost.value,
                    usage: [
                        "prompt": counts.promptTokens, "output": counts.completionTokens,
                        "thoughts": counts.thoughtsTokens,
                        "cached": counts.cachedTokens,
                    ])
                cache.store(key.digest, entry) { flights.remove(key, flight) }
            }
            // Settled durably before any client sees the end of the answer, at the tier that served.
            let ending: Accountant.Ending = assembler.isFinished && usage != nil ? .ok : .incomplete
            let served = ServiceTier.served(
                requested: admission.tier,
                header: started.headers.value(of: "x-gemini-service-tier"),
                trafficType: answer["usageMetadata"]?["trafficType"]?.stringValue)
            flight.tier = served
            flight.cost = await accountant.settle(
                admission, usage: usage, ending: ending, cacheStatus: cacheOutcome.rawValue, attempts: attempts,
                servedTier: served)
            call.record?.update { [cost = flight.cost] record in
                if let usage { record.note(usage) }
                record.cost = cost
            }
            // A stream the upstream ended before its finish (or one cut short when every client
            // left) is a failure for every client, not only for those whose dialect checks: a
            // non-stream follower would otherwise render half an answer as a finished one.
            if call.upstream.method == .streamGenerateContent && !assembler.isFinished {
                flight.finish(.failure(FlashgateError(.upstreamProtocol, "the upstream stream ended before it finished")))
            } else {
                flight.finish(.success)
            }
        } catch {
            // A refusal before generating costs nothing; a call cut off (a broken stream, a timeout,
            // every client gone) may have been billed and is charged its reservation.
            let ending: Accountant.Ending = refused ? .upstreamError : .incomplete
            flight.cost = await accountant.settle(
                admission, usage: nil, ending: ending, cacheStatus: cacheOutcome.rawValue, attempts: attempts)
            call.record?.update { [cost = flight.cost] in $0.cost = cost }
            flight.finish(.failure(FlashgateError(wrapping: error)))
        }
    }

    /// Hands one upstream event to the flight's clients. The thought signatures in it are kept
    /// under the route that issued them first, so whoever renders the event (a chat answer, a
    /// Responses answer sealing them into `encrypted_content`, a follower) finds their origin.
    private func publish(
        _ event: JSONValue, _ flight: Flight, _ assembler: inout GeminiAnswerAssembler, call: GenerateCall,
        route target: ResolvedRoute
    ) {
        let issued = SignatureOrigins.signatures(inAnswer: event)
        if !issued.isEmpty {
            signatures.save(
                team: call.team, route: SignatureOrigins.origin(route: target.route.name, model: target.upstreamModel),
                signatures: issued.map { (SignatureOrigins.key($0), $0) })
        }
        assembler.add(event)
        flight.publish(event)
    }

    /// Before an attempt after the first: an attempt cut off may have been billed, so the next
    /// one needs a reservation of its own (the cut-off one is charged its own at the end); so does
    /// one on a route whose model is priced differently, at that model's price. After a refusal
    /// (nothing billed) on the same model the reservation is reused. No budget for it: the call
    /// ends with the failure it had.
    private func admitNext(
        _ target: ResolvedRoute, after previous: AttemptFate, _ call: GenerateCall, _ admissions: AttemptAdmissions,
        cacheStatus: String
    ) async -> Bool {
        let current = admissions.current
        if previous == .refused, current.upstreamModel == target.pricedModel { return true }
        guard let next = await admitDurably(target, call) else { return false }
        let replaced = admissions.replace(with: next, owed: previous == .cutOff)
        // A refused attempt owes nothing: its reservation (at another model) goes back now.
        if let replaced { await accountant.settle(replaced, usage: nil, ending: .upstreamError, cacheStatus: cacheStatus) }
        return true
    }

    /// A hedge costs a second upstream call, so it needs its own admission: the rate limits and
    /// the budget must allow another worst case, made durable before the hedge leaves.
    private func admitHedge(_ twin: ResolvedRoute, _ call: GenerateCall, into hedge: HedgeAdmission) async -> Bool {
        guard let admitted = await admitDurably(twin, call) else { return false }
        hedge.put(admitted)
        return true
    }

    /// Another admission of `call` for an attempt on `target`, at its model's price, made
    /// durable; nil when the limits, the budget or the ledger refuse it.
    private func admitDurably(_ target: ResolvedRoute, _ call: GenerateCall) async -> Accountant.Admission? {
        guard
            case .admit(var admitted) = accountant.admit(
                caller: call.caller, clientModel: call.clientModel, upstreamModel: target.pricedModel,
                route: target.route.name, body: call.body)
        else { return nil }
        do {
            try await accountant.persist(&admitted)
        } catch {
            accountant.release(admitted)
            return nil
        }
        return admitted
    }

    /// Retries, failovers and hedges are worth a line; a first-attempt success is not.
    private func logAttempts(_ attempts: [AttemptRecord]) {
        guard attempts.count > 1 else { return }
        logger.info(
            "upstream attempts", metadata: ["attempts": "\(attempts.map(\.compact).joined(separator: ","))"])
    }
}

extension Accountant.Ending {
    /// What a hedge's losing attempt owes: a refusal costs nothing; an attempt cut off may have
    /// been billed and is charged its reservation.
    init(_ fate: AttemptFate) {
        switch fate {
        case .refused: self = .upstreamError
        case .cutOff: self = .incomplete
        }
    }
}

/// The reservations of one call's attempts: the one covering the attempt in flight (and the last
/// one made), and those of earlier attempts that were cut off, each charged its reservation once
/// the call is over.
final class AttemptAdmissions: Sendable {
    private struct State {
        var current: Accountant.Admission
        var owed: [Accountant.Admission] = []
    }

    private let state: Mutex<State>

    init(_ first: Accountant.Admission) { state = Mutex(State(current: first)) }

    var current: Accountant.Admission { state.withLock { $0.current } }

    /// `next` covers the next attempt. The one it replaces is kept to be charged when `owed`;
    /// otherwise it is returned, for the caller to give back.
    func replace(with next: Accountant.Admission, owed: Bool) -> Accountant.Admission? {
        state.withLock { state in
            let replaced = state.current
            state.current = next
            if owed {
                state.owed.append(replaced)
                return nil
            }
            return replaced
        }
    }

    func takeOwed() -> [Accountant.Admission] {
        state.withLock { state in
            defer { state.owed = [] }
            return state.owed
        }
    }
}

/// The extra admission of a hedge, handed from the retry owner's callback back to the pump.
final class HedgeAdmission: Sendable {
    private let box = Mutex<Accountant.Admission?>(nil)

    func put(_ admission: Accountant.Admission) { box.withLock { $0 = admission } }
    func take() -> Accountant.Admission? {
        box.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
