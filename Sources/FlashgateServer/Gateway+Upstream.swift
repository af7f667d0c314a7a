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

    /// Native calls that are not generations (token counts, embeddings): after the retry owner
    /// got a 2xx answer started, its status, content type and bytes go to the client as they come.
    func passThrough(_ upstream: UpstreamCall, writer: ResponseWriter, record: RequestRecord?) async {
        let start = ContinuousClock.now
        let outcome = await retryOwner.run(upstream)
        record?.note(outcome, since: start)
        let started: StartedAnswer
        switch outcome.answer {
        case .success(let answer): started = answer
        case .failure(let error):
            if Task.isCancelled { return }
            await writer.respond(.error(error, dialect: .google))
            return
        }
        do {
            var forwarded: [(String, String)] = []
            if let type = started.headers.first(where: { $0.name.lowercased() == "content-type" }) {
                forwarded.append(("content-type", type.value))
            }
            try await writer.writeHead(status: HTTPResponseStatus(statusCode: started.status), headers: forwarded)
            while let chunk = try await started.reader.nextChunk() { try await writer.writeBody(chunk) }
            await writer.end()
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            await writer.abort()
        }
    }
}
