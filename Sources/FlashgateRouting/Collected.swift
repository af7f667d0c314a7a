import FlashgateCore

/// A whole upstream answer, read to its end: for answers passed on or parsed whole (model lists,
/// embeddings, token counts), never for streamed generations.
package struct Collected: Sendable {
    package var status: Int
    package var headers: [UpstreamHeader]
    package var body: [UInt8]

    package init(status: Int, headers: [UpstreamHeader], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package var isSuccess: Bool { (200..<300).contains(status) }
}

extension Collected {
    package static func collect(_ response: UpstreamResponse) async throws -> Collected {
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
}
