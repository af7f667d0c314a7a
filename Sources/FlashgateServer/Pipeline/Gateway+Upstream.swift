import FlashgateCore
import FlashgateRouting
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
}
