import FlashgateCore

/// An upstream answer that has started on some route; nothing has reached any client yet.
package final class StartedAnswer: Sendable {
    package let target: ResolvedRoute
    package let status: Int
    package let headers: [UpstreamHeader]
    package let reader: AnswerReader
    /// The first Gemini event (`.firstEvent` calls).
    package let first: JSONValue?
    /// The transport's own time to this answer's head (`UpstreamTiming`), when it measures it.
    package let wireTime: Duration?

    init(
        target: ResolvedRoute, status: Int, headers: [UpstreamHeader], reader: AnswerReader, first: JSONValue?,
        wireTime: Duration? = nil
    ) {
        self.target = target
        self.status = status
        self.headers = headers
        self.reader = reader
        self.first = first
        self.wireTime = wireTime
    }
}
