import FlashgateCore
import FlashgateWire
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The request pipeline. `handle` decides on the event loop: health, listings, bad input and
/// unknown models are answered at once; calls that need the upstream become async work.
/// Only decoding and rendering know the client's dialect.
package final class Gateway: Sendable {
    package let routes: RouteTable
    package let readiness: Readiness
    let logger: Logger
    /// Unix seconds, injected so rendered answers are reproducible in tests.
    let now: @Sendable () -> Int
    /// Fetches http(s) media that chat requests name (`Gateway+Media`).
    let media: any MediaFetcher

    package init(
        routes: RouteTable, readiness: Readiness, logger: Logger, now: @escaping @Sendable () -> Int,
        media: any MediaFetcher = RefusingMediaFetcher()
    ) {
        self.routes = routes
        self.readiness = readiness
        self.logger = logger
        self.now = now
        self.media = media
    }

    package func handle(_ request: GatewayRequest) -> GatewayResult {
        switch Endpoint.match(method: request.method, path: request.path) {
        case .health:
            return .immediate(.json(["status": "ok"]))
        case .ready:
            let ready = readiness.isReady
            return .immediate(.json(["status": ready ? "ready" : "starting"], status: ready ? .ok : .serviceUnavailable))
        case .listModels:
            return listModels()
        case .nativeListModels:
            return nativeListModels()
        case .model(let id):
            return model(id)
        case .chatCompletions:
            return chatCompletions(request)
        case .native(let model, let method):
            return native(request, model: model, method: method)
        case .notFound(let dialect):
            return .immediate(
                .error(FlashgateError(.notFound, "no endpoint \(request.method.rawValue) \(request.path)"), dialect: dialect))
        case .methodNotAllowed(let dialect, let allowed):
            var response = GatewayResponse.error(
                FlashgateError(.methodNotAllowed, "\(request.path) accepts \(allowed) only"), dialect: dialect)
            response.headers.append(("allow", allowed))
            return .immediate(response)
        }
    }

    /// Parses a JSON body, or explains in a 400 why it is not JSON.
    static func parseBody(_ request: GatewayRequest) throws(FlashgateError) -> JSONValue {
        guard request.body.readableBytes > 0 else { throw .invalid("the request body is empty; expected a JSON object") }
        do throws(JSONParseError) {
            return try request.body.withUnsafeReadableBytes { buffer throws(JSONParseError) in
                try JSONParser.parse(buffer)
            }
        } catch {
            throw .invalid("the request body is not valid JSON: \(error)")
        }
    }

    private func chatCompletions(_ request: GatewayRequest) -> GatewayResult {
        let chat: ChatRequest
        let resolved: ResolvedRoute
        do throws(FlashgateError) {
            chat = try ChatRequest.translate(try Self.parseBody(request))
            guard let route = routes.resolve(model: chat.model) else {
                throw FlashgateError(.notFound, "the model '\(chat.model)' does not exist or is not configured", param: "model")
            }
            resolved = route
        } catch {
            return .immediate(.error(error, dialect: .openAI))
        }
        let body = JSONWriter.encode(.object(chat.gemini))
        let upstream = routes.request(
            resolved, method: chat.stream ? .streamGenerateContent : .generateContent, sse: true, body: body)
        let id = "chatcmpl-" + request.requestID
        let created = now()
        return .deferred { [self] writer in
            guard let upstream = await upstreamWithMedia(chat, upstream, writer: writer) else { return }
            if chat.stream {
                await streamChat(chat, upstream: upstream, transport: resolved.transport, id: id, created: created, writer: writer)
            } else {
                await completeChat(chat, upstream: upstream, transport: resolved.transport, id: id, created: created, writer: writer)
            }
        }
    }

    private func native(_ request: GatewayRequest, model: String, method: NativeMethod) -> GatewayResult {
        let resolved: ResolvedRoute
        do throws(FlashgateError) {
            guard try Self.parseBody(request).objectValue != nil else {
                throw FlashgateError.invalid("the request body must be a JSON object")
            }
            guard let route = routes.resolve(model: model) else {
                throw FlashgateError(.notFound, "models/\(model) is not found or is not configured")
            }
            resolved = route
        } catch {
            return .immediate(.error(error, dialect: .google))
        }
        // The body goes upstream exactly as sent; the client's key is never forwarded.
        let body = Array(buffer: request.body)
        let sse = request.queryItem("alt") == "sse"
        let upstream = routes.request(resolved, method: method, sse: sse, body: body)
        return .deferred { [self] writer in
            await passThrough(upstream, transport: resolved.transport, writer: writer)
        }
    }
}

/// Whether the listeners and the store are open; `/readyz` reports it.
package final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    package init() {}

    package var isReady: Bool { ready.load(ordering: .relaxed) }

    package func set(_ value: Bool) { ready.store(value, ordering: .relaxed) }
}
