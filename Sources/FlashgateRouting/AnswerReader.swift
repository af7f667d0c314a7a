import FlashgateCore
import FlashgateWire

/// Reads a started upstream answer as Gemini events, whatever its framing: Gemini SSE, one
/// Gemini JSON object, or an OpenAI-compatible answer (JSON or SSE chunks) translated as it comes.
///
/// Invariants: an `{"error":…}` event is thrown, never yielded; an SSE answer that ends without a
/// single event is a protocol error; the iterator is owned by one task at a time (it moves from
/// the attempt that started it to the flight's pump, hence the unchecked `Sendable`).
package final class AnswerReader: @unchecked Sendable {
    private var iterator: UpstreamResponse.AsyncIterator
    package let framing: AnswerFraming
    private var decoder = SSEDecoder()
    private var whole: [UInt8] = []
    private var pending: [JSONValue] = []
    private var pendingIndex = 0
    private var ended = false
    private var yielded = false
    private var openAI = OpenAIUpstream.StreamTranslator()

    init(iterator: UpstreamResponse.AsyncIterator, framing: AnswerFraming) {
        self.iterator = iterator
        self.framing = framing
    }

    /// The next Gemini event, or nil at the end of the answer.
    package func next() async throws -> JSONValue? {
        while true {
            if pendingIndex < pending.count {
                let event = pending[pendingIndex]
                pendingIndex += 1
                if pendingIndex == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    pendingIndex = 0
                }
                yielded = true
                return event
            }
            if ended { return nil }
            guard let event = try await iterator.next() else {
                ended = true
                try finish()
                continue
            }
            guard case .body(let bytes) = event else { continue }
            switch framing {
            case .geminiSSE, .openAISSE:
                for payload in decoder.feed(bytes) { try take(payload) }
            case .geminiJSON, .openAIJSON:
                whole += bytes
            }
        }
    }

    /// The raw body chunks, for answers passed through untouched.
    package func nextChunk() async throws -> [UInt8]? {
        while let event = try await iterator.next() {
            if case .body(let bytes) = event { return bytes }
        }
        return nil
    }

    private func finish() throws {
        switch framing {
        case .geminiSSE, .openAISSE:
            if let payload = decoder.finish() { try take(payload) }
            if framing == .openAISSE { pending += openAI.finish() }
            if !yielded && pending.isEmpty {
                throw FlashgateError(.upstreamProtocol, "the upstream stream ended without sending an answer")
            }
        case .geminiJSON:
            pending.append(try Self.parse(whole))
        case .openAIJSON:
            pending.append(OpenAIUpstream.response(fromCompletion: try Self.parse(whole)))
        }
    }

    private func take(_ payload: [UInt8]) throws {
        if framing == .openAISSE {
            if payload.elementsEqual("[DONE]".utf8) { return }
            for event in openAI.feed(try Self.parse(payload)) {
                // An error chunk comes out as Google's error event.
                if event["error"] != nil { _ = try Self.parse(JSONWriter.encode(event)) }
                pending.append(event)
            }
        } else {
            pending.append(try Self.parse(payload))
        }
    }

    private static func parse(_ payload: [UInt8]) throws -> JSONValue {
        guard let event = try? JSONParser.parse(payload) else {
            throw FlashgateError(.upstreamProtocol, "the upstream sent an answer that is not JSON")
        }
        if let error = event["error"] {
            let status = error["code"]?.intValue ?? 500
            throw FlashgateError.fromUpstream(status: (400...599).contains(status) ? status : 500, body: payload)
        }
        return event
    }
}
