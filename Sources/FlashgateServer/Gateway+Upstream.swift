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
