import FlashgateCore
import FlashgateWire

/// The `mock` route kind as an upstream transport: it answers Gemini requests from
/// `MockModel` without any network, so the whole pipeline runs offline and deterministically.
package struct MockTransport: UpstreamTransport {
    package init() {}

    package func send(_ request: UpstreamRequest) -> UpstreamResponse {
        let (status, contentType, chunks) = answer(request)
        let stream = AsyncThrowingStream<UpstreamEvent, any Error> { continuation in
            continuation.yield(.head(status: status, headers: [UpstreamHeader("content-type", contentType)]))
            for chunk in chunks { continuation.yield(.body(chunk)) }
            continuation.finish()
        }
        return UpstreamResponse(stream)
    }

    private func answer(_ request: UpstreamRequest) -> (Int, String, [[UInt8]]) {
        let json = "application/json"
        guard let range = request.url.range(of: "/models") else { return notFound() }
        let rest = request.url[range.upperBound...]
        if request.method == "GET" { return (200, json, [JSONWriter.encode(MockModel.listModels())]) }
        guard rest.hasPrefix("/"), let colon = rest.lastIndex(of: ":") else { return notFound() }
        let model = String(rest[rest.index(after: rest.startIndex)..<colon])
        var method = String(rest[rest.index(after: colon)...])
        var sse = false
        if let mark = method.firstIndex(of: "?") {
            sse = method[mark...].contains("alt=sse")
            method = String(method[..<mark])
        }
        let body: JSONValue
        do {
            body = try JSONParser.parse(request.body)
        } catch {
            return failure(FlashgateError(.upstreamStatus, "Invalid JSON payload received. \(error)", upstreamStatus: 400))
        }
        do {
            switch method {
            case "generateContent":
                let responses = try MockModel.generate(model: model, request: body, stream: false)
                return (200, json, [JSONWriter.encode(responses[0])])
            case "streamGenerateContent":
                let responses = try MockModel.generate(model: model, request: body, stream: true)
                if sse { return (200, "text/event-stream", responses.map { SSEEncoder.frame($0) }) }
                // The JSON-array stream form: "[" first, "," between elements, "]" last.
                var chunks: [[UInt8]] = []
                for (i, response) in responses.enumerated() {
                    chunks.append(Array((i == 0 ? "[" : ",\r\n").utf8) + JSONWriter.encode(response))
                }
                chunks.append(Array("]".utf8))
                return (200, json, chunks)
            case "countTokens":
                return (200, json, [JSONWriter.encode(MockModel.countTokens(request: body))])
            case "embedContent":
                return (200, json, [JSONWriter.encode(try MockModel.embedContent(request: body))])
            case "batchEmbedContents":
                return (200, json, [JSONWriter.encode(try MockModel.batchEmbedContents(model: model, request: body))])
            default:
                return notFound()
            }
        } catch {
            return failure(error)
        }
    }

    private func notFound() -> (Int, String, [[UInt8]]) {
        failure(FlashgateError(.upstreamStatus, "the mock model does not serve this method", upstreamStatus: 404))
    }

    private func failure(_ error: FlashgateError) -> (Int, String, [[UInt8]]) {
        (error.httpStatus, "application/json", [error.googleBody()])
    }
}
