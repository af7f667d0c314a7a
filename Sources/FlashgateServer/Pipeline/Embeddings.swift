import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire
import NIOCore

/// OpenAI `POST /v1/embeddings`: validated on the event loop, priced and admitted like a
/// generation, sent upstream as one Gemini `batchEmbedContents` call, rendered back as an OpenAI
/// list whose `usage.prompt_tokens` is what was charged. Upstream failures come back in the
/// OpenAI error envelope with the upstream's status.
///
/// Invariant: what fails before admission is thrown, noted as a refusal, and rendered once by
/// `Gateway.handle`.
struct Embeddings: Sendable {
    let accountant: Accountant
    let routes: RouteTable
    let generation: Generation

    func callAsFunction(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        let embeddings: EmbeddingsRequest
        let plan: RoutePlan
        let caller: Caller
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            caller = try identified.get()
            embeddings = try EmbeddingsRequest.translate(try request.jsonBody())
            plan = try routes.plan(model: embeddings.model)
        } catch {
            throw request.refused(error, caller: try? identified.get())
        }
        request.record?.identify(caller, model: plan.model)
        let upstream = UpstreamCall(
            plan: plan, method: .batchEmbedContents, sse: false, start: .head,
            body: { target in JSONWriter.encode(.object(embeddings.gemini(upstreamModel: target.upstreamModel))) })
        let call = MeteredCall(
            kind: .embed, caller: caller, clientModel: plan.model, dialect: .openAI, record: request.record,
            upstream: upstream)
        let gemini = JSONValue.object(embeddings.gemini(upstreamModel: plan.primary.upstreamModel))
        return try generation.metered(call, body: gemini) { _, answer, charged throws(FlashgateError) in
            .json(try EmbeddingsResponse.render(answer, request: embeddings, promptTokens: charged))
        }
    }

    /// A native `batchEmbedContents` body names the model once per request, and Gemini requires
    /// it to match the URL. When the client's id is an alias for another upstream model, those
    /// names are rewritten to the upstream model; otherwise the bytes go upstream as sent.
    static func nativeBatchEmbedBody(_ sent: [UInt8], clientModel: String, upstreamModel: String) -> [UInt8] {
        let client = ModelID.bare(clientModel)
        guard client != upstreamModel, let body = try? JSONParser.parse(sent), var object = body.objectValue,
            let requests = object["requests"]?.arrayValue
        else { return sent }
        object["requests"] = .array(
            requests.map { item in
                guard var fields = item.objectValue, let named = fields["model"]?.stringValue,
                    named == client || named == "models/\(client)"
                else { return item }
                fields["model"] = .string("models/\(upstreamModel)")
                return .object(fields)
            })
        return JSONWriter.encode(.object(object))
    }
}
