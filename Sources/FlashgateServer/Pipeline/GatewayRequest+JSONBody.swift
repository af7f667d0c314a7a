import FlashgateCore
import NIOCore

/// The body of a JSON endpoint: parsed once, or refused with a 400 that says why.
extension GatewayRequest {
    /// Parses a JSON body, or explains in a 400 why it is not JSON.
    func jsonBody() throws(FlashgateError) -> JSONValue {
        guard body.readableBytes > 0 else { throw .invalid("the request body is empty; expected a JSON object") }
        do throws(JSONParseError) {
            return try body.withUnsafeReadableBytes { buffer throws(JSONParseError) in
                try JSONParser.parse(buffer)
            }
        } catch {
            // Looked at only once the body has failed: a compressed body is not read as JSON.
            if let encoding = headers.first(name: "content-encoding"), encoding.lowercased() != "identity" {
                throw .invalid(
                    "request bodies with content-encoding '\(encoding.prefix(32))' are not supported; send the JSON uncompressed")
            }
            throw .invalid("the request body is not valid JSON: \(error)")
        }
    }
}
