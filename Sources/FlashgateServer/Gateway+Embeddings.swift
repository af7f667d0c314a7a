import FlashgateCore
import FlashgateWire
import NIOCore

/// OpenAI `POST /v1/embeddings`: validated on the event loop, sent upstream as one Gemini
/// `batchEmbedContents` call, rendered back as an OpenAI list. Upstream failures come back in the
/// OpenAI error envelope with the upstream's status.
extension Gateway {
    func embeddings(_ request: GatewayRequest) -> GatewayResult {
        let embeddings: EmbeddingsRequest
        let resolved: ResolvedRoute
        do throws(FlashgateError) {
            _ = try accountant.caller(request).get()
            embeddings = try EmbeddingsRequest.translate(try Self.parseBody(request))
            guard let route = routes.resolve(model: embeddings.model) else {
                throw FlashgateError(
                    .notFound, "the model '\(embeddings.model)' does not exist or is not configured", param: "model")
            }
            resolved = route
        } catch {
            return .immediate(.error(error, dialect: .openAI))
        }
        let body = JSONWriter.encode(.object(embeddings.gemini(upstreamModel: resolved.upstreamModel)))
        let upstream = routes.request(resolved, method: .batchEmbedContents, sse: false, body: body)
        return .deferred { [self] writer in
            await completeEmbeddings(embeddings, upstream: upstream, transport: resolved.transport, writer: writer)
        }
    }

    func completeEmbeddings(
        _ embeddings: EmbeddingsRequest, upstream: UpstreamRequest, transport: any UpstreamTransport,
        writer: ResponseWriter
    ) async {
        do {
            let answer = try await Self.collect(transport.send(upstream))
            guard answer.isSuccess else {
                await writer.respond(.error(.fromUpstream(status: answer.status, body: answer.body), dialect: .openAI))
                return
            }
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
            await writer.respond(.error(Self.gatewayError(error), dialect: .openAI))
        }
    }

    /// A native `batchEmbedContents` body names the model once per request, and Gemini requires
    /// it to match the URL. When the client's id is an alias for another upstream model, those
    /// names are rewritten to the upstream model; otherwise the bytes go upstream as sent.
    static func nativeBatchEmbedBody(_ request: GatewayRequest, clientModel: String, upstreamModel: String) -> [UInt8] {
        let sent = Array(buffer: request.body)
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
