import FlashgateCore

/// One scripted HTTP reply of FakeGemini. Each chunk is written and flushed on its own, so a
/// test sees them arrive separately; gates hold the reply where the test wants it to stall.
package struct FakeReply: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var chunks: [[UInt8]]
    /// When set, nothing (not even the head) is written until the gate opens: a slow first byte.
    package var gate: FakeGate?
    /// `[k: gate]` stalls the reply after writing `k` chunks until `gate` opens: mid-stream stalls.
    package var chunkGates: [Int: FakeGate]
    /// When set, the connection is closed abruptly after this many chunks, with no terminator.
    package var dropAfterChunks: Int?
    /// When set, the connection is closed as soon as the request has been read: no byte of an
    /// answer (a keep-alive connection that dies under a request).
    package var closeWithoutAnswer = false

    package init(
        status: Int = 200, headers: [(name: String, value: String)] = [], chunks: [[UInt8]] = [],
        gate: FakeGate? = nil, chunkGates: [Int: FakeGate] = [:], dropAfterChunks: Int? = nil
    ) {
        self.status = status
        self.headers = headers
        self.chunks = chunks
        self.gate = gate
        self.chunkGates = chunkGates
        self.dropAfterChunks = dropAfterChunks
    }

    /// The connection closes after the request was read, before any byte of an answer.
    package static var closeWithoutAnswer: FakeReply {
        var reply = FakeReply()
        reply.closeWithoutAnswer = true
        return reply
    }

    package static func json(_ body: String, status: Int = 200) -> FakeReply {
        FakeReply(
            status: status, headers: [("Content-Type", "application/json; charset=UTF-8")], chunks: [Array(body.utf8)])
    }

    /// A `text/event-stream` reply; each JSON event is its own chunk, framed as Gemini frames it.
    package static func sse(_ jsonEvents: [String]) -> FakeReply {
        FakeReply(
            headers: [("Content-Type", "text/event-stream")],
            chunks: jsonEvents.map { Array("data: \($0)\r\n\r\n".utf8) })
    }

    /// Google's error envelope `{"error":{"code","message","status","details"?}}`. `details` is
    /// raw JSON (usually an array), inserted as is.
    package static func googleError(status: Int, message: String, googleStatus: String, details: String? = nil)
        -> FakeReply
    {
        var error: JSONObject = [
            "code": JSONValue(status), "message": .string(message), "status": .string(googleStatus),
        ]
        if let details, let parsed = try? JSONParser.parse(details) { error["details"] = parsed }
        return FakeReply(
            status: status, headers: [("Content-Type", "application/json; charset=UTF-8")],
            chunks: [JSONWriter.encode(["error": .object(error)])])
    }
}
