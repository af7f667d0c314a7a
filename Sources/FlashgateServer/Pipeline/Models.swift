import FlashgateCore
import FlashgateRouting
import FlashgateWire
import Logging

/// `GET /v1/models` and `/v1/models/{id}`: configured ids, plus what a passthrough route's
/// upstream lists.
///
/// Invariant: an unreachable upstream lists nothing rather than failing; an invalid id is thrown
/// (no refusal: no model is called) and rendered by `Gateway.handle`, while an id the passthrough
/// upstream turns out not to know is answered after the deferred lookup.
struct Models: Sendable {
    let routes: RouteTable
    let logger: Logger

    func list() -> GatewayResult {
        let configured = routes.configuredModelIDs
        guard let passthrough = routes.passthroughRoute else {
            return .immediate(.json(ModelList.openAIList(configured)))
        }
        return .deferred { [self] writer in
            let ids = await upstreamModelIDs(passthrough)
            await writer.respond(.json(ModelList.openAIList(merge(configured, ids))))
        }
    }

    /// `GET /v1beta/models` in Gemini's shape: configured ids, then the passthrough upstream's
    /// models as it described them, a page at a time as Gemini pages them: `pageSize` models (50
    /// when not given, at most 1,000), and a `nextPageToken` while more follow.
    func nativeList(pageSize: String?, pageToken: String?) throws(FlashgateError) -> GatewayResult {
        let page = try NativeModelPage(pageSize: pageSize, pageToken: pageToken)
        let configured: [JSONValue] = routes.configuredModelIDs.map { ["name": .string("models/\($0)")] }
        guard let passthrough = routes.passthroughRoute else {
            return .immediate(.json(page.answer(configured)))
        }
        return .deferred { [self] writer in
            let upstream = (await upstreamModels(passthrough)?["models"]?.arrayValue ?? []).filter {
                ModelID.isValid($0["name"]?.stringValue ?? "")
            }
            let names = Set(configured.compactMap { $0["name"]?.stringValue })
            let merged = configured + upstream.filter { !names.contains($0["name"]?.stringValue ?? "") }
            await writer.respond(.json(page.answer(merged)))
        }
    }

    func model(_ id: String) throws(FlashgateError) -> GatewayResult {
        _ = try ModelID(validating: id)
        if routes.configuredModelIDs.contains(id) { return .immediate(.json(ModelList.openAIModel(id))) }
        guard let passthrough = routes.passthroughRoute else { throw notFound(id) }
        return .deferred { [self] writer in
            let ids = await upstreamModelIDs(passthrough)
            if ids.contains(id) {
                await writer.respond(.json(ModelList.openAIModel(id)))
            } else {
                await writer.respond(.error(notFound(id), dialect: .openAI))
            }
        }
    }

    /// `GET /v1beta/models/{id}` in Gemini's shape: a configured id as `{"name": "models/<id>"}`,
    /// else the passthrough upstream's own entry; 404 in Google's envelope for an unknown id.
    func nativeModel(_ id: String) throws(FlashgateError) -> GatewayResult {
        let bare = ModelID.bare(id)
        _ = try ModelID(validating: bare)
        if routes.configuredModelIDs.contains(bare) { return .immediate(.json(["name": .string("models/\(bare)")])) }
        guard let passthrough = routes.passthroughRoute else { throw notFound(bare) }
        return .deferred { [self] writer in
            let listed = await upstreamModels(passthrough)?["models"]?.arrayValue ?? []
            if let found = listed.first(where: { $0["name"]?.stringValue == "models/\(bare)" }) {
                await writer.respond(.json(found))
            } else {
                await writer.respond(.error(notFound(bare), dialect: .google))
            }
        }
    }

    private func notFound(_ id: String) -> FlashgateError {
        FlashgateError(.notFound, "the model '\(id)' does not exist or is not configured", param: "model")
    }

    /// The passthrough route's model ids; an unreachable upstream lists nothing rather than
    /// failing. Only ids a client could call (valid `ModelID`s) are listed.
    private func upstreamModelIDs(_ resolved: ResolvedRoute) async -> [String] {
        (await upstreamModels(resolved).map(ModelList.geminiIDs) ?? []).filter(ModelID.isValid)
    }

    private func upstreamModels(_ resolved: ResolvedRoute) async -> JSONValue? {
        guard let request = routes.listRequest(resolved.route) else { return nil }
        do {
            let answer = try await Collected.collect(resolved.transport.send(request))
            guard answer.isSuccess else {
                logger.warning("model list failed", metadata: ["route": "\(resolved.route.name)", "status": "\(answer.status)"])
                return nil
            }
            return try JSONParser.parse(answer.body)
        } catch {
            logger.warning("model list failed", metadata: ["route": "\(resolved.route.name)", "error": "\(error)"])
            return nil
        }
    }

    private func merge(_ first: [String], _ second: [String]) -> [String] {
        var seen = Set(first)
        return first + second.filter { seen.insert($0).inserted }
    }
}

/// One page of `GET /v1beta/models`: where it starts and how many models it holds. The page
/// token is the offset of the next model, opaque to clients (`o<offset>`).
struct NativeModelPage: Equatable {
    static let defaultSize = 50
    static let maxSize = 1_000

    var offset: Int
    var size: Int

    init(pageSize: String?, pageToken: String?) throws(FlashgateError) {
        size = Self.defaultSize
        if let pageSize {
            // Gemini's rule: unset or 0 is the default; more than the maximum is the maximum.
            guard let asked = Int(pageSize), asked >= 0 else {
                throw FlashgateError(.invalidRequest, "pageSize must be a whole number, 0 or more", param: "pageSize")
            }
            if asked > 0 { size = min(asked, Self.maxSize) }
        }
        offset = 0
        if let pageToken, !pageToken.isEmpty {
            guard pageToken.hasPrefix("o"), let at = Int(pageToken.dropFirst()), at >= 0, at <= 1_000_000 else {
                throw FlashgateError(.invalidRequest, "pageToken is not one this server gave", param: "pageToken")
            }
            offset = at
        }
    }

    /// The page of `models`, with the token of the next page while more follow.
    func answer(_ models: [JSONValue]) -> JSONValue {
        let start = min(offset, models.count)
        let end = min(start + size, models.count)
        var object: JSONObject = ["models": .array(Array(models[start..<end]))]
        if end < models.count { object["nextPageToken"] = .string("o\(end)") }
        return .object(object)
    }
}
