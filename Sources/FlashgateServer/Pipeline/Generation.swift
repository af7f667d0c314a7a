import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire
import Logging

/// The one road of a paid call upstream: every generation (OpenAI chat, native generate and
/// stream) and every metered call (embeddings, token counts, in `Generation+Metered.swift`)
/// goes through it, so none can skip admission or settlement. It holds only what such a call
/// uses — the cache, the flights, the accountant, the retry owner, the signature store — and is
/// the only type that holds both the accountant and the retry owner.
///
/// A generation reads top to bottom in `run`: cache lookup → join → admit → lead. The leader's
/// upstream call and its settlement are in `Generation+Upstream.swift`; rendering each client's
/// answer (a hit, the leader, a follower) is in `Generation+Serve.swift`.
final class Generation: Sendable {
    let cache: ResponseCacheStore?
    let flights: FlightTable
    let accountant: Accountant
    let retryOwner: RetryOwner
    let signatures: any SignatureStore
    let logger: Logger
    /// Unix milliseconds for cache times and dated prices (injected for tests).
    let nowMilliseconds: @Sendable () -> Int64
    /// Automatic context caching (nil: off).
    let contextCaches: ContextCaches?
    /// OpenAI bodies of cache hits, kept as templates per stored answer.
    let hitBodies = HitBodyMemo()

    init(
        cache: ResponseCacheStore?, flights: FlightTable, accountant: Accountant, retryOwner: RetryOwner,
        signatures: any SignatureStore, logger: Logger, nowMilliseconds: @escaping @Sendable () -> Int64,
        contextCaches: ContextCaches? = nil
    ) {
        self.contextCaches = contextCaches
        self.cache = cache
        self.flights = flights
        self.accountant = accountant
        self.retryOwner = retryOwner
        self.signatures = signatures
        self.logger = logger
        self.nowMilliseconds = nowMilliseconds
    }
}

extension Generation {
    /// A generation, one stage at a time: a cache hit is answered now, on the event loop; otherwise
    /// the call joins an identical one in flight, or is admitted and leads a new one. A refusal
    /// (no price, a rate limit, a spent budget) is noted on the request and thrown, for the edge
    /// to render once.
    func run(_ call: GenerateCall) throws(FlashgateError) -> GatewayResult {
        try contextCaches?.checkOwnership(call)
        let outcome: CacheOutcome
        switch lookup(call) {
        case .hit(let response): return .immediate(response)
        case .joined(let flight): return follow(flight, call)
        case .miss: outcome = .miss
        case .bypass: outcome = .bypass
        }
        // Only calls that go upstream pay: admission reserves their worst case first.
        let admission: Accountant.Admission
        switch accountant.admit(
            caller: call.caller, clientModel: call.clientModel, upstreamModel: call.primary.pricedModel,
            route: call.primary.route.name, body: call.body)
        {
        case .reject(let rejected):
            call.record?.refuse(rejected.reason)
            throw rejected.error
        case .admit(let admitted): admission = admitted
        }
        guard call.policy.coalesce, let key = call.key else {
            return .deferred { [self] writer in
                await lead(Flight(), call, admission, writer, outcome, inTable: false)
            }
        }
        let joined = flights.join(key)
        guard joined.leader else {
            // Someone else started the same call a moment ago: join it and free the reservation.
            accountant.release(admission)
            return follow(joined.flight, call)
        }
        return .deferred { [self] writer in await lead(joined.flight, call, admission, writer, outcome) }
    }

    /// A generation inside work already deferred (after a media fetch): its answer, or its
    /// refusal rendered here in the call's dialect, since the edge's catch is behind it.
    func run(_ call: GenerateCall, writer: ResponseWriter) async {
        do throws(FlashgateError) {
            switch try run(call) {
            case .immediate(let response): await writer.respond(response)
            case .deferred(let work): await work(writer)
            }
        } catch {
            await writer.respond(.error(error, dialect: call.mode.dialect))
        }
    }

    /// The cache stage: a stored answer (rendered, and recorded as a hit), an identical call in
    /// flight to join, or neither. A stored answer that does not parse counts as a miss.
    func lookup(_ call: GenerateCall) -> CacheLookup {
        if call.policy.lookup, let cache, let key = call.key {
            if let hit = cache.lookup(key.digest), let response = renderHit(hit, key: key, call: call) {
                cache.recordHit(savedMicroUSD: hit.costMicroUSD)
                recordHit(hit, call)
                return .hit(response)
            }
            cache.recordMiss()
        }
        if call.policy.coalesce, let key = call.key, let flight = flights.existing(key) {
            return .joined(flight)
        }
        return call.policy.bypass ? .bypass : .miss
    }

    /// A hit's request record and its $0 ledger row, with the usage the stored answer recorded.
    private func recordHit(_ hit: CacheEntry, _ call: GenerateCall) {
        var usage = TokenUsage()
        usage.promptTokens = hit.usage["prompt"] ?? 0
        usage.candidatesTokens = max(0, (hit.usage["output"] ?? 0) - (hit.usage["thoughts"] ?? 0))
        usage.thoughtsTokens = hit.usage["thoughts"] ?? 0
        usage.cachedTokens = hit.usage["cached"] ?? 0
        call.record?.update { record in
            record.cache = CacheOutcome.hit.rawValue
            record.route = call.primary.route.name
            record.note(usage)
            record.saved = MicroUSD(hit.costMicroUSD)
        }
        accountant.recordFree(
            call.caller, model: call.clientModel, route: call.primary.route.name, usage: usage,
            cacheStatus: CacheOutcome.hit.rawValue)
    }

    private func follow(_ flight: Flight, _ call: GenerateCall) -> GatewayResult {
        call.record?.update {
            $0.cache = CacheOutcome.joined.rawValue
            $0.route = call.primary.route.name
        }
        return .deferred { [self] writer in
            guard let events = flight.subscribeIfLive() else {
                // Everyone on it left and its call was cancelled since this call found it: this
                // call goes on its own (the table no longer hands that flight out).
                await run(call, writer: writer)
                return
            }
            await serve(events, call, writer: writer, cacheOutcome: .joined, flight: nil)
            accountant.recordFree(
                call.caller, model: call.clientModel, route: call.primary.route.name, usage: nil,
                cacheStatus: CacheOutcome.joined.rawValue)
        }
    }

    private func lead(
        _ flight: Flight, _ call: GenerateCall, _ admission: Accountant.Admission, _ writer: ResponseWriter,
        _ outcome: CacheOutcome,
        inTable: Bool = true
    ) async {
        var admission = admission
        call.record?.update {
            $0.cache = outcome.rawValue
            $0.softBudgetsExceeded = admission.reservation?.softExceeded ?? []
        }
        do {
            let reserved = admission.reservation != nil
            try await accountant.persist(&admission)
            // Reserved only now (a shared lease's grant was in flight): its soft budgets too.
            if !reserved, let soft = admission.reservation?.softExceeded, !soft.isEmpty {
                call.record?.update { $0.softBudgetsExceeded = soft }
            }
        } catch {
            if inTable, let key = call.key { flights.remove(key, flight) }
            let rejected = error as? Rejection
            let failure =
                rejected?.error ?? .reservationNotRecorded
            flight.finish(.failure(failure))
            if let rejected {
                // Refused for the ledger's sake: counted as a refusal, no row (the queue stays bounded).
                call.record?.refuse(rejected.reason)
                accountant.release(admission)
            } else {
                await accountant.settle(admission, usage: nil, ending: .upstreamError, cacheStatus: outcome.rawValue)
            }
            await writer.respond(.error(failure, dialect: call.mode.dialect))
            return
        }
        guard call.mode.isStreaming else {
            // A whole answer: the leader's own task makes the upstream call, then renders the
            // finished flight (no second task to start, no wake-up between the two). Its client
            // leaving cancels the call only when no follower waits for it.
            let departure = writer.departure
            let headers = accountant.headers(admission)  // as admitted, like a stream's
            flight.leadInline { departure.cancelTask() }
            if departure.divert({ flight.leaderLeft() }) {
                await pump(flight, call, admission, cacheOutcome: outcome, inTable: inTable)
                departure.endDivert()
            } else {
                // The client left before the call began (while the reservation was recorded), so
                // this task is cancelled: the call runs in a task of its own for the followers
                // that joined, and the flight cancels it when none is left. Run inline here, the
                // cancelled call failed every follower with "the call was cancelled".
                let upstream = Task(executorPreference: writer.taskExecutor) { [self] in
                    await self.pump(flight, call, admission, cacheOutcome: outcome, inTable: inTable)
                }
                flight.setUpstream(upstream)
                flight.leaderLeft()
                await upstream.value
            }
            // The flight has ended: its events are read as they are, not through a pipe.
            if let finished = flight.finished() {
                await serve(
                    reading: finished, call, writer: writer, cacheOutcome: outcome, flight: flight,
                    extraHeaders: headers)
            } else {
                await serve(
                    flight.replay(), call, writer: writer, cacheOutcome: outcome, flight: flight, extraHeaders: headers)
            }
            return
        }
        // A stream: the subscription comes first, so the upstream call always has someone to
        // serve, and a task of its own pumps the events while this one writes them.
        let events = flight.subscribe()
        let settled = admission
        let pump = Task(executorPreference: writer.taskExecutor) { [self] in
            await self.pump(flight, call, settled, cacheOutcome: outcome, inTable: inTable)
        }
        flight.setUpstream(pump)
        // This request's record is reported when the call is settled, not when its client left:
        // a follower may keep the call going, and the leader pays for it (the access log and the
        // metrics carry the charge the ledger has).
        call.record?.holdReport()
        await serve(
            events, call, writer: writer, cacheOutcome: outcome, flight: flight,
            extraHeaders: accountant.headers(admission))
        await pump.value
        call.record?.releaseReport()
    }
}
