import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire
import Logging
import NIOHTTP1
import Synchronization

/// What a request allows the cache to do, from its `Cache-Control` header.
struct CachePolicy: Sendable {
    var lookup = true
    var store = true
    var coalesce = true

    /// `no-store`: neither look up nor store (nor join others); `no-cache`: skip the lookup, still
    /// store. An in-flight answer is fresh, so `no-cache` may still join one.
    init(headers: HTTPHeaders, enabled: Bool) {
        guard enabled else {
            lookup = false
            store = false
            coalesce = false
            return
        }
        for value in headers[canonicalForm: "cache-control"] {
            switch value.lowercased() {
            case "no-store":
                lookup = false
                store = false
                coalesce = false
            case "no-cache":
                lookup = false
            default:
                break
            }
        }
    }

    var bypass: Bool { !lookup && !store && !coalesce }
}

/// One generation on its way: where it goes, how it is cached, and how the client wants it.
struct GenerateCall: Sendable {
    var key: CacheKey
    var policy: CachePolicy
    var ttl: Duration
    /// The retry owner's call: the routes, the method and the body for each route.
    var upstream: UpstreamCall
    var mode: AnswerMode
    var clientModel: String
    var caller: Caller
    /// The canonical Gemini request, for the cost estimate.
    var body: JSONValue
    /// The leader's request record (the one that makes the upstream call).
    var record: RequestRecord?

    var team: String { caller.team }
    /// Where the call goes first; its price is reserved and its name is on hits and joins.
    var primary: ResolvedRoute { upstream.plan.primary }
}

/// The one road of a paid call upstream: every generation (OpenAI chat, native generate and
/// stream) and every metered call (embeddings, token counts, in `Generation+Metered.swift`)
/// goes through it, so none can skip admission or settlement. It holds only what such a call
/// uses — the cache, the flights, the accountant, the retry owner, the signature store — and is
/// the only type that holds both the accountant and the retry owner.
///
/// A generation reads top to bottom in `run`: cache lookup → join → admit → lead (call upstream
/// through the retry owner, render, settle).
final class Generation: Sendable {
    let cache: ResponseCacheStore?
    let flights: FlightTable
    let accountant: Accountant
    let retryOwner: RetryOwner
    let signatures: any SignatureStore
    let logger: Logger
    /// Unix milliseconds for cache times and dated prices (injected for tests).
    let nowMilliseconds: @Sendable () -> Int64

    init(
        cache: ResponseCacheStore?, flights: FlightTable, accountant: Accountant, retryOwner: RetryOwner,
        signatures: any SignatureStore, logger: Logger, nowMilliseconds: @escaping @Sendable () -> Int64
    ) {
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
    /// A generation: a cache hit is answered now, on the event loop; otherwise the call joins an
    /// identical one in flight or leads a new one.
    func run(_ call: GenerateCall) -> GatewayResult {
        if call.policy.lookup, let cache {
            if let hit = cache.lookup(call.key.digest), let response = renderHit(hit, call: call) {
                cache.recordHit(savedMicroUSD: hit.costMicroUSD)
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
                    call.caller, model: call.clientModel, route: call.primary.route.name, usage: usage, cacheStatus: CacheOutcome.hit.rawValue)
                return .immediate(response)
            }
            cache.recordMiss()
        }
        if call.policy.coalesce, let flight = flights.existing(call.key) {
            return follow(flight, call)
        }
        // Only calls that go upstream pay: admission reserves their worst case first.
        let admission: Accountant.Admission
        switch accountant.admit(
            caller: call.caller, clientModel: call.clientModel, upstreamModel: call.primary.pricedModel,
            route: call.primary.route.name, body: call.body)
        {
        case .failure(let rejected):
            call.record?.refuse(rejected.reason)
            return .immediate(rejected.response(call.mode.dialect))
        case .success(let admitted): admission = admitted
        }
        if call.policy.coalesce {
            let joined = flights.join(call.key)
            guard joined.leader else {
                // Someone else started the same call a moment ago: join it and free the reservation.
                accountant.release(admission)
                return follow(joined.flight, call)
            }
            return .deferred { [self] writer in await lead(joined.flight, call, admission, writer, .miss) }
        }
        let outcome: CacheOutcome = call.policy.bypass ? .bypass : .miss
        return .deferred { [self] writer in await lead(Flight(), call, admission, writer, outcome, inTable: false) }
    }

    private func follow(_ flight: Flight, _ call: GenerateCall) -> GatewayResult {
        call.record?.update {
            $0.cache = CacheOutcome.joined.rawValue
            $0.route = call.primary.route.name
        }
        return .deferred { [self] writer in
            await serve(flight.subscribe(), call, writer: writer, cacheOutcome: .joined, flight: nil)
            accountant.recordFree(call.caller, model: call.clientModel, route: call.primary.route.name, usage: nil, cacheStatus: CacheOutcome.joined.rawValue)
        }
    }

    private func lead(
        _ flight: Flight, _ call: GenerateCall, _ admission: Accountant.Admission, _ writer: ResponseWriter, _ outcome: CacheOutcome,
        inTable: Bool = true
    ) async {
        var admission = admission
        call.record?.update {
            $0.cache = outcome.rawValue
            $0.softBudgetsExceeded = admission.reservation?.softExceeded ?? []
        }
        do {
            try await accountant.persist(&admission)
        } catch {
            if inTable { flights.remove(call.key, flight) }
            let failure = FlashgateError(.unavailable, "the usage ledger could not record the reservation")
            flight.finish(.failure(failure))
            await accountant.settle(admission, usage: nil, ending: .upstreamError, cacheStatus: outcome.rawValue)
            await writer.respond(.error(failure, dialect: call.mode.dialect))
            return
        }
        // The subscription comes first, so the upstream call always has someone to serve.
        let events = flight.subscribe()
        let settled = admission
        let pump = Task(executorPreference: writer.taskExecutor) { [self] in
            await self.pump(flight, call, settled, cacheOutcome: outcome, inTable: inTable)
        }
        flight.setUpstream(pump)
        await serve(events, call, writer: writer, cacheOutcome: outcome, flight: flight, extraHeaders: accountant.headers(admission))
    }

    /// Reads the shared events and writes them in this client's mode.
    /// `flight` is the leader's own flight (its cost is this client's); followers pass nil and pay $0.
    private func serve(
        _ events: AsyncThrowingStream<JSONValue, any Error>, _ call: GenerateCall, writer: ResponseWriter,
        cacheOutcome: CacheOutcome, flight: Flight?, extraHeaders: [(String, String)] = []
    ) async {
        var rendering = AnswerRendering(call.mode)
        let headers = [("content-type", rendering.contentType), ("x-flashgate-cache", cacheOutcome.rawValue)] + extraHeaders
        var started = false
        do {
            for try await event in events {
                let bytes = rendering.render(event)
                if call.mode.isStreaming {
                    if !started {
                        try await writer.writeHead(status: .ok, headers: headers + Self.streamHeaders)
                        started = true
                    }
                    try await writer.writeBody(bytes)
                }
            }
            let cost = flight?.cost ?? .zero
            let tier = flight?.tier
            let tail = rendering.finish(cost: cost, tier: tier)
            saveSignatures(rendering.signatures, call)
            // A stream's cost and served tier are known only at its end: they go in trailers.
            var charged = [("x-flashgate-cost-usd", cost.dollars)]
            if let tier { charged.append(("x-flashgate-service-tier", tier.rawValue)) }
            if call.mode.isStreaming {
                if !started { try await writer.writeHead(status: .ok, headers: headers + Self.streamHeaders) }
                try await writer.writeBody(tail)
                await writer.end(trailers: charged)
            } else {
                await writer.respond(GatewayResponse(status: .ok, headers: headers + charged, body: tail))
            }
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            let failure = FlashgateError(wrapping: error)
            if !started {
                var response = GatewayResponse.error(failure, dialect: call.mode.dialect)
                response.headers.append(("x-flashgate-cache", cacheOutcome.rawValue))
                await writer.respond(response)
            } else if case .openAI = call.mode {
                try? await writer.writeBody(ChatStreamTranslator.errorFrame(failure))
                await writer.end()
            } else {
                await writer.abort()
            }
        }
    }

    static let streamHeaders = [("cache-control", "no-cache"), ("trailer", "x-flashgate-cost-usd, x-flashgate-service-tier")]

    /// Keeps the signatures a client was given by tool-call id, under the route that issued each
    /// one (known by its hash from `pump`; the primary route when it is not known).
    private func saveSignatures(_ found: [(toolCallID: String, signature: String)], _ call: GenerateCall) {
        guard !found.isEmpty else { return }
        var byRoute: [String: [(toolCallID: String, signature: String)]] = [:]
        for item in found {
            let origin = signatures.lookup(team: call.team, toolCallID: SignatureOrigins.key(item.signature))?.route
            byRoute[origin ?? call.primary.route.name, default: []].append(item)
        }
        for (route, items) in byRoute { signatures.save(team: call.team, route: route, signatures: items) }
    }

    /// The one upstream call of a flight, made through the retry owner: publishes each Gemini
    /// event as it arrives, stores a complete successful answer, and ends the flight with the
    /// outcome every subscriber sees.
    private func pump(
        _ flight: Flight, _ call: GenerateCall, _ admission: Accountant.Admission, cacheOutcome: CacheOutcome, inTable: Bool
    ) async {
        // The flight stays joinable until its answer is in the cache, so no request falls into
        // the gap between the two and goes upstream again.
        var handedOver = false
        defer { if inTable && !handedOver { flights.remove(call.key, flight) } }
        var admission = admission
        let hedge = HedgeAdmission()
        let start = ContinuousClock.now
        let outcome = await retryOwner.run(call.upstream) { [self] twin in
            await admitHedge(twin, call, into: hedge)
        }
        call.record?.note(outcome, since: start)
        if var extra = hedge.take() {
            // The hedge's reservation pays for whichever attempt did not serve the request.
            if let loser = outcome.hedgeLoser { extra.route = loser.route }
            await accountant.settle(
                extra, usage: nil, ending: outcome.hedgeLoser.map { Accountant.Ending($0.fate) } ?? .incomplete,
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
                // Nothing to pay when no attempt could have been billed: none was made (every
                // breaker open), or each one was refused with an error status.
                refused = outcome.attempts.allSatisfy { attempt in
                    if case .status = attempt.outcome { return true }
                    return false
                }
                throw error
            }
            admission.route = started.target.route.name
            admission.upstreamModel = started.target.pricedModel
            if let first = started.first { publish(first, flight, &assembler) }
            while let event = try await started.reader.next() { publish(event, flight, &assembler) }
            // The assembled answer is built once here; usage, cost and the cache entry read it.
            let answer = assembler.response
            let usage = TokenUsage(usageMetadata: answer["usageMetadata"])
            let issued = SignatureOrigins.signatures(inAnswer: answer)
            if !issued.isEmpty {
                signatures.save(
                    team: call.team, route: started.target.route.name, signatures: issued.map { (SignatureOrigins.key($0), $0) })
            }
            if call.policy.store, assembler.isCompleteSuccess, let cache, call.ttl > .zero {
                let now = nowMilliseconds()
                let cost = usage.flatMap { accountant.prices.cost($0.billable, model: started.target.pricedModel) } ?? .zero
                let counts = usage ?? TokenUsage()
                handedOver = inTable
                let flights = self.flights
                let entry = CacheEntry(
                    body: JSONWriter.encode(answer), team: call.team, model: call.clientModel,
                    createdAtMs: now, expiresAtMs: now + call.ttl.milliseconds, costMicroUSD: cost.value,
                    usage: [
                        "prompt": counts.promptTokens, "output": counts.completionTokens, "thoughts": counts.thoughtsTokens,
                        "cached": counts.cachedTokens,
                    ])
                cache.store(call.key.digest, entry) { flights.remove(call.key, flight) }
            }
            // Settled durably before any client sees the end of the answer, at the tier that served.
            let ending: Accountant.Ending = assembler.isFinished && usage != nil ? .ok : .incomplete
            let served = ServiceTier.served(
                requested: admission.tier,
                header: started.headers.first { $0.name.lowercased() == "x-gemini-service-tier" }?.value,
                trafficType: answer["usageMetadata"]?["trafficType"]?.stringValue)
            flight.tier = served
            flight.cost = await accountant.settle(
                admission, usage: usage, ending: ending, cacheStatus: cacheOutcome.rawValue, attempts: attempts, servedTier: served)
            call.record?.update { [cost = flight.cost] record in
                if let usage { record.note(usage) }
                record.cost = cost
            }
            flight.finish(.success)
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

    private func publish(_ event: JSONValue, _ flight: Flight, _ assembler: inout GeminiAnswerAssembler) {
        assembler.add(event)
        flight.publish(event)
    }

    /// A hedge costs a second upstream call, so it needs its own admission: the rate limits and
    /// the budget must allow another worst case, made durable before the hedge leaves.
    private func admitHedge(_ twin: ResolvedRoute, _ call: GenerateCall, into hedge: HedgeAdmission) async -> Bool {
        guard
            case .success(var admitted) = accountant.admit(
                caller: call.caller, clientModel: call.clientModel, upstreamModel: twin.pricedModel,
                route: twin.route.name, body: call.body)
        else { return false }
        do {
            try await accountant.persist(&admitted)
        } catch {
            accountant.release(admitted)
            return false
        }
        hedge.put(admitted)
        return true
    }

    /// Retries, failovers and hedges are worth a line; a first-attempt success is not.
    private func logAttempts(_ attempts: [AttemptRecord]) {
        guard attempts.count > 1 else { return }
        logger.info(
            "upstream attempts", metadata: ["attempts": "\(attempts.map(\.compact).joined(separator: ","))"])
    }

    /// A cache hit, rendered at once: usage as recorded, cost $0, and what it saved.
    /// A cache hit, rendered at once: usage as recorded, cost $0, and what it saved. A native JSON
    /// hit is the stored bytes as they are; other modes render from the parsed answer. Nil when the
    /// stored answer does not parse (treated as a miss).
    private func renderHit(_ hit: CacheEntry, call: GenerateCall) -> GatewayResponse? {
        var rendering = AnswerRendering(call.mode)
        var body: [UInt8]
        if case .nativeJSON = call.mode {
            body = hit.body
        } else {
            guard let response = try? JSONParser.parse(hit.body) else { return nil }
            if case .openAI(let chat, let id, let created) = call.mode, !chat.stream {
                let rendered = ChatResponse.render(response, model: chat.model, id: id, created: created)
                saveSignatures(rendered.signatures, call)
                var object = rendered.body.objectValue ?? JSONObject()
                if case .object(var usage)? = object["usage"] {
                    usage["cost"] = .number(MicroUSD.zero.dollars)
                    object["usage"] = .object(usage)
                }
                body = JSONWriter.encode(.object(object))
            } else {
                body = []
                for event in GeminiAnswerRenderer.events(response) { body += rendering.render(event) }
                body += rendering.finish()
                saveSignatures(rendering.signatures, call)
            }
        }
        return GatewayResponse(
            status: .ok,
            headers: [
                ("content-type", rendering.contentType), ("x-flashgate-cache", CacheOutcome.hit.rawValue), ("x-flashgate-cost-usd", "0.000000"),
                ("x-flashgate-cost-saved-usd", MicroUSD(hit.costMicroUSD).dollars),
            ], body: body)
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

/// The extra admission of a hedge, handed from the retry owner's callback back to the pump.
final class HedgeAdmission: Sendable {
    private let box = Mutex<Accountant.Admission?>(nil)

    func put(_ admission: Accountant.Admission) { box.withLock { $0 = admission } }
    func take() -> Accountant.Admission? { box.withLock { value in defer { value = nil }; return value } }
}
