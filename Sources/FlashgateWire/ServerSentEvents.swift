import FlashgateCore

/// Incremental decoder for `text/event-stream` bytes: feed chunks as they arrive, get whole
/// events' `data` payloads back. Handles `\n`, `\r\n` and `\r` line ends and events split across
/// chunks at any byte.
package struct SSEDecoder: Sendable {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var lastWasCR = false

    package init() {}

    /// Bytes buffered that do not yet form a whole event.
    package var hasPartialEvent: Bool { hasData || !line.isEmpty }

    package mutating func feed(_ bytes: some Sequence<UInt8>) -> [[UInt8]] {
        var events: [[UInt8]] = []
        for byte in bytes {
            if byte == 0x0A && lastWasCR {
                lastWasCR = false
                continue
            }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if line.isEmpty {
                    if hasData { events.append(data) }
                    data.removeAll(keepingCapacity: true)
                    hasData = false
                } else {
                    takeLine()
                }
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(byte)
            }
        }
        return events
    }

    /// Call at the end of the stream: a final event without its blank line still counts.
    package mutating func finish() -> [UInt8]? {
        if !line.isEmpty {
            takeLine()
            line.removeAll()
        }
        defer {
            data.removeAll()
            hasData = false
        }
        return hasData ? data : nil
    }

    private mutating func takeLine() {
        // "data:" with an optional single space; other fields (event, id, retry) and comments are ignored.
        guard line.count >= 5, line[0] == 0x64, line[1] == 0x61, line[2] == 0x74, line[3] == 0x61, line[4] == 0x3A else {
            return
        }
        var start = 5
        if start < line.count && line[start] == 0x20 { start += 1 }
        if hasData { data.append(0x0A) }
        data.append(contentsOf: line[start...])
        hasData = true
    }
}

/// Writes SSE frames the way OpenAI and Gemini clients read them.
package enum SSEEncoder {
    package static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array("data: ".utf8)
        out.reserveCapacity(payload.count + 8)
        out.append(contentsOf: payload)
        out.append(contentsOf: [0x0A, 0x0A])
        return out
    }

    package static func frame(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 256)
        writer.append("data: ")
        writer.write(value)
        writer.append("\n\n")
        return writer.bytes
    }

    package static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)
}
