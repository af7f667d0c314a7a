import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

/// A response read to its end: the head and every body event in order.
struct CollectedResponse {
    var status: Int
    var headers: [UpstreamHeader]
    var chunks: [[UInt8]]

    var body: [UInt8] { chunks.flatMap { $0 } }
    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

struct MissingHead: Error {}

func collect(_ response: UpstreamResponse) async throws -> CollectedResponse {
    var head: (Int, [UpstreamHeader])?
    var chunks: [[UInt8]] = []
    for try await event in response {
        switch event {
        case .head(let status, let headers):
            #expect(head == nil, "exactly one head")
            head = (status, headers)
        case .body(let bytes):
            #expect(head != nil, "head before body")
            chunks.append(bytes)
        }
    }
    guard let head else { throw MissingHead() }
    return CollectedResponse(status: head.0, headers: head.1, chunks: chunks)
}

/// Runs `body` against a fresh transport and FakeGemini and shuts both down, also on failure.
func withTransport(
    _ configuration: CurlTransport.Configuration = .init(),
    _ body: (CurlTransport, FakeGemini) async throws -> Void
) async throws {
    CurlTransport.ignoreSIGPIPE()
    let fake = try await FakeGemini.start()
    let transport = try CurlTransport(configuration: configuration)
    do {
        try await body(transport, fake)
    } catch {
        transport.shutdown()
        try await fake.shutdown()
        throw error
    }
    transport.shutdown()
    try await fake.shutdown()
}

/// The error an iteration threw, as the transport's error type.
func upstreamError(of response: UpstreamResponse) async -> FlashgateError? {
    do {
        for try await _ in response {}
        return nil
    } catch let error as FlashgateError {
        return error
    } catch {
        return FlashgateError(.internal, "unexpected error type \(type(of: error))")
    }
}
