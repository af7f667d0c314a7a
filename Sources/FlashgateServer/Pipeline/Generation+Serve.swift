import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import FlashgateWire

/// Serving: every client of a generation — the leader, each follower, a cache hit — gets its answer
/// rendered in its own dialect and mode here, from the Gemini events the flight (or the cache)
/// holds; the leader's cost and served tier go out at the end, in a stream's trailers.
extension Generation {
    /// Reads the shared events and writes them in this client's mode.
    /// `flight` is the leader's own flight (its cost is this client's); followers pass nil and pay $0.
    func serve(
        _ events: EventPipe<JSONValue>.Events, _ call: GenerateCall, writer: ResponseWriter,
        cacheOutcome: CacheOutcome, flight: Flight?, extraHeaders: [(String, String)] = []
    ) async {
        await serve(
            reading: events.makeAsyncIterator(), call, writer: writer, cacheOutcome: cacheOutcome, flight: flight,
            extraHeaders: extraHeaders)
    }

    /// The same, from any source of the events (`FinishedEvents` for the inline leader).
    func serve(
        reading events: some ServedEvents, _ call: GenerateCall, writer: ResponseWriter,
        cacheOutcome: CacheOutcome, flight: Flight?, extraHeaders: [(String, String)] = []
    ) async {
        var rendering = AnswerRendering(call.mode)
        let headers =
            [("content-type", rendering.contentType), ("x-flashgate-cache", cacheOutcome.rawValue)] + extraHeaders
        var started = false
        // A stream's rendered events not written yet: those already waiting in the pipe go out
        // together, in one write and flush, instead of one each (no event waits for a later one).
        var unwritten: [UInt8] = []
        do {
            var iterator = events
            while let event = try await iterator.next() {
                let bytes = rendering.render(event)
                if call.mode.isStreaming {
                    if !started {
                        try await writer.writeHead(status: .ok, headers: headers + Self.streamHeaders)
                        started = true
                    }
                    unwritten += bytes
                    if !iterator.nextIsReady {
                        try await writer.writeBody(unwritten)
                        unwritten = []
                    }
                }
            }
            let cost = flight?.cost ?? .zero
            let tier = flight?.tier
            let tail = rendering.finish(cost: cost, tier: tier)
            saveSignatures(rendering.signatures, call)
            if let outcome = rendering.responsesOutcome { call.completed?(outcome) }
            // A stream's cost and served tier are known only at its end: they go in trailers.
            var charged = [("x-flashgate-cost-usd", cost.dollars)]
            if let tier { charged.append(("x-flashgate-service-tier", tier.rawValue)) }
            if call.mode.isStreaming {
                if !started { try await writer.writeHead(status: .ok, headers: headers + Self.streamHeaders) }
                await writer.end(after: unwritten + tail, trailers: charged)
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
            } else if call.mode.dialect == .openAI {
                // OpenAI clients learn of the break in the stream itself (an error event or
                // `response.failed`), never from a silently truncated success.
                await writer.end(after: unwritten + rendering.failure(failure))
            } else {
                // What the client was owed before the break still reaches it, then the cut.
                if !unwritten.isEmpty { try? await writer.writeBody(unwritten) }
                await writer.abort()
            }
        }
    }

    static let streamHeaders = [
        ("cache-control", "no-cache"), ("trailer", "x-flashgate-cost-usd, x-flashgate-service-tier"),
    ]

    /// Keeps the signatures a client was given by tool-call id, under the route that issued each
    /// one (known by its hash from `pump`; the primary route when it is not known).
    func saveSignatures(_ found: [(toolCallID: String, signature: String)], _ call: GenerateCall) {
        guard !found.isEmpty else { return }
        var byRoute: [String: [(toolCallID: String, signature: String)]] = [:]
        for item in found {
            let origin = signatures.lookup(team: call.team, toolCallID: SignatureOrigins.key(item.signature))?.route
            let primary = SignatureOrigins.origin(route: call.primary.route.name, model: call.primary.upstreamModel)
            byRoute[origin ?? primary, default: []].append(item)
        }
        for (route, items) in byRoute { signatures.save(team: call.team, route: route, signatures: items) }
    }

    /// A cache hit, rendered at once: usage as recorded, cost $0, and what it saved. A native JSON
    /// hit is the stored bytes as they are; an OpenAI JSON hit fills the entry's template once one
    /// is known (`HitBodyMemo`); other modes render from the parsed answer. Nil when the stored
    /// answer does not parse (treated as a miss).
    func renderHit(_ hit: CacheEntry, key: CacheKey, call: GenerateCall) -> GatewayResponse? {
        var rendering = AnswerRendering(call.mode)
        var body: [UInt8]
        if case .nativeJSON = call.mode {
            body = hit.body
        } else if case .openAI(let chat, let id, let created) = call.mode, !chat.stream {
            let memo = HitBodyMemo.Key(digest: key.digest, createdAtMs: hit.createdAtMs, model: chat.model)
            if let known = hitBodies.body(memo, id: id, created: created) {
                body = known
            } else {
                guard let response = try? JSONParser.parse(hit.body) else { return nil }
                let rendered = Self.openAIHitBody(response, model: chat.model, id: id, created: created)
                saveSignatures(rendered.signatures, call)
                body = rendered.body
                if rendered.signatures.isEmpty {
                    let marked = Self.openAIHitBody(
                        response, model: chat.model, id: HitBodyMemo.markerID, created: HitBodyMemo.markerCreated)
                    hitBodies.learn(memo, markedBody: marked.body)
                }
            }
        } else {
            guard let response = try? JSONParser.parse(hit.body) else { return nil }
            body = []
            for event in GeminiAnswerRenderer.events(response) { body += rendering.render(event) }
            body += rendering.finish()
            saveSignatures(rendering.signatures, call)
            if let outcome = rendering.responsesOutcome { call.completed?(outcome) }
        }
        return GatewayResponse(
            status: .ok,
            headers: [
                ("content-type", rendering.contentType), ("x-flashgate-cache", CacheOutcome.hit.rawValue),
                ("x-flashgate-cost-usd", "0.000000"),
                ("x-flashgate-cost-saved-usd", MicroUSD(hit.costMicroUSD).dollars),
            ], body: body)
    }

    /// An OpenAI chat completion of a stored answer, as a hit answers it: usage as recorded and a
    /// cost of $0.
    static func openAIHitBody(_ response: JSONValue, model: String, id: String, created: Int)
        -> (body: [UInt8], signatures: [(toolCallID: String, signature: String)])
    {
        let rendered = ChatResponse.render(response, model: model, id: id, created: created, cost: .zero)
        return (rendered.bytes, rendered.signatures)
    }
}
