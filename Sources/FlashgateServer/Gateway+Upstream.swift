import FlashgateCore
import FlashgateWire
import NIOHTTP1

/// The async half of the pipeline: upstream calls and rendering their answers.
extension Gateway {
    /// A whole upstream answer.
    struct Collected {
        var status: Int
        var headers: [UpstreamHeader]
        var body: [UInt8]

        var isSuccess: Bool { (200..<300).contains(status) }

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name }?.value
        }
    }

    static func collect(_ response: UpstreamResponse) async throws -> Collected {
        var collected = Collected(status: 0, headers: [], body: [])
        for try await event in response {
            switch event {
            case .head(let status, let headers):
                collected.status = status
                collected.headers = headers
            case .body(let bytes):
                collected.body += bytes
            }
        }
        guard collected.status != 0 else {
            throw FlashgateError(.upstreamProtocol, "the upstream closed the connection without answering")
        }
        return collected
    }

    /// Maps anything thrown below to the one error type.
    static func gatewayError(_ error: any Error) -> FlashgateError {
        if let error = error as? FlashgateError { return error }
        return FlashgateError(.internal, "internal error while calling the upstream")
    }

    func completeChat(_ call: ChatCall, writer: ResponseWriter) async {
        do {
            let answer = try await Self.collect(call.resolved.transport.send(call.upstream))
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
            let rendered = ChatResponse.render(parsed, model: call.chat.model, id: call.id, created: call.created)
            signatures.save(team: Self.defaultTeam, route: call.resolved.route.name, signatures: rendered.signatures)
            await writer.respond(.json(rendered.body))
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            await writer.respond(.error(Self.gatewayError(error), dialect: .openAI))
        }
    }

    func streamChat(_ call: ChatCall, writer: ResponseWriter) async {
        var iterator = call.resolved.transport.send(call.upstream).makeAsyncIterator()
        let status: Int
        do {
            guard case .head(let code, _) = try await iterator.next() else {
                throw FlashgateError(.upstreamProtocol, "the upstream closed the connection without answering")
            }
            status = code
            if !(200..<300).contains(status) {
                var body: [UInt8] = []
                while case .body(let bytes) = try await iterator.next() { body += bytes }
                await writer.respond(.error(.fromUpstream(status: status, body: body), dialect: .openAI))
                return
            }
            try await writer.writeHead(
                status: .ok, headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")])
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            await writer.respond(.error(Self.gatewayError(error), dialect: .openAI))
            return
        }

        var decoder = SSEDecoder()
        var translator = ChatStreamTranslator(
            model: call.chat.model, id: call.id, created: call.created, includeUsage: call.chat.includeUsage)
        defer {
            signatures.save(team: Self.defaultTeam, route: call.resolved.route.name, signatures: translator.signatures)
        }
        do {
            while let event = try await iterator.next() {
                guard case .body(let bytes) = event else { continue }
                var out: [UInt8] = []
                for payload in decoder.feed(bytes) {
                    out += try translate(payload, with: &translator)
                }
                try await writer.writeBody(out)
            }
            var out: [UInt8] = []
            if let payload = decoder.finish() { out += try translate(payload, with: &translator) }
            out += translator.finish()
            try await writer.writeBody(out)
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            try? await writer.writeBody(ChatStreamTranslator.errorFrame(Self.gatewayError(error)))
        }
        await writer.end()
    }

    private func translate(_ payload: [UInt8], with translator: inout ChatStreamTranslator) throws -> [UInt8] {
        guard let event = try? JSONParser.parse(payload) else {
            throw FlashgateError(.upstreamProtocol, "the upstream sent an event that is not JSON")
        }
        if event["error"] != nil {
            let status = event["error"]?["code"]?.intValue ?? 500
            throw FlashgateError.fromUpstream(status: status, body: payload)
        }
        return translator.translate(event: event)
    }

    /// Native calls: the upstream's status, content type and bytes go to the client as they come.
    func passThrough(_ upstream: UpstreamRequest, transport: any UpstreamTransport, writer: ResponseWriter) async {
        var iterator = transport.send(upstream).makeAsyncIterator()
        var started = false
        do {
            guard case .head(let status, let headers) = try await iterator.next() else {
                throw FlashgateError(.upstreamProtocol, "the upstream closed the connection without answering")
            }
            var forwarded: [(String, String)] = []
            if let type = headers.first(where: { $0.name.lowercased() == "content-type" }) {
                forwarded.append(("content-type", type.value))
            }
            try await writer.writeHead(status: HTTPResponseStatus(statusCode: status), headers: forwarded)
            started = true
            while let event = try await iterator.next() {
                if case .body(let bytes) = event { try await writer.writeBody(bytes) }
            }
            await writer.end()
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            if started {
                await writer.abort()
            } else {
                await writer.respond(.error(Self.gatewayError(error), dialect: .google))
            }
        }
    }
}
