import FlashgateCore
import FlashgateRouting
import FlashgateWire
import NIOCore

/// OpenAI `POST /v1/embeddings`: validated on the event loop, sent upstream as one Gemini
/// `batchEmbedContents` call, rendered back as an OpenAI list. Upstream failures come back in the
/// OpenAI error envelope with the upstream's status.
extension Gateway {
    func embeddings(_ request: GatewayRequest) -> GatewayResult {
        let embeddings: EmbeddingsRequest
        let plan: RoutePlan
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            _ = try identified.get()
            embeddings = try EmbeddingsRequest.translate(try Self.parseBody(request))
            guard let route = try routes.resolve(model: embeddings.model) else {
                throw FlashgateError(
                    .notFound, "the model '\(embeddings.model)' does not exist or is not configured", param: "model")
            }
            plan = route
        } catch {
            return refuse(error, request, caller: try? identified.get(), dialect: .openAI)
        }
        let upstream = UpstreamCall(
            plan: plan, method: .batchEmbedContents, sse: false, start: .head,
            body: { target in JSONWriter.encode(.object(embeddings.gemini(upstreamModel: target.upstreamModel))) })
        return .deferred { [self] writer in await completeEmbeddings(embeddings, upstream: upstream, writer: writer) }
    }

    func completeEmbeddings(_ embeddings: EmbeddingsRequest, upstream: UpstreamCall, writer: ResponseWriter) async {
        do {
            let start = ContinuousClock.now
            let outcome = await retryOwner.run(upstream)
            writer.record?.note(outcome, since: start)
            let started = try outcome.answer.get()
            var body: [UInt8] = []
            while let chunk = try await started.reader.nextChunk() { body += chunk }
            let answer = Collected(status: started.status, headers: started.headers, body: body)
            let parsed: JSONValue
            do {
                parsed = try JSONParser.parse(answer.body)
            } catch {
                throw FlashgateError(.upstreamProtocol, "the upstream answered with invalid JSON")
            }
            await writer.respond(.json(try EmbeddingsResponse.render(parsed, request: embeddings)))
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            await writer.respond(.error(FlashgateError(wrapping: error), dialect: .openAI))
        }
    }

    /// A native `batchEmbedContents` body names the model once per request, and Gemini requires
    /// it to match the URL. When the client's id is an alias for another upstream model, those
    /// names are rewritten to the upstream model; otherwise the bytes go upstream as sent.
    static func nativeBatchEmbedBody(_ sent: [UInt8], clientModel: String, upstreamModel: String) -> [UInt8] {
        let client = clientModel.hasPrefix("models/") ? String(clientModel.dropFirst(7)) : clientModel
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
