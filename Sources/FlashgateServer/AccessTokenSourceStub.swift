// Temporary until the Vertex credentials land in FlashgateUpstream.
package protocol AccessTokenSource: Sendable {
    func token() async throws -> String
    func invalidate() async
}
import FlashgateCore
// Temporary until the OpenAI-compatible translation lands in FlashgateWire.
package enum OpenAIUpstream {
    static func request(fromGemini body: JSONValue, model: String, stream: Bool) throws(FlashgateError) -> JSONValue {
        throw FlashgateError.invalid("not yet")
    }
}
extension OpenAIUpstream {
    static func response(fromCompletion: JSONValue) -> JSONValue { fromCompletion }
    static func geminiError(status: Int, body: [UInt8]) -> [UInt8] { body }
    struct StreamTranslator {
        init() {}
        mutating func feed(_ chunk: JSONValue) -> [JSONValue] { [] }
        mutating func finish() -> [JSONValue] { [] }
    }
}
