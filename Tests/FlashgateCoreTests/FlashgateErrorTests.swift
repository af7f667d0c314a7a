import Testing

@testable import FlashgateCore

@Suite struct FlashgateErrorTests {
    @Test func openAIEnvelope() throws {
        let error = FlashgateError.invalid("'messages' is required", param: "messages")
        let body = try JSONParser.parse(error.openAIBody())
        #expect(error.httpStatus == 400)
        #expect(body["error"]?["message"]?.stringValue == "'messages' is required")
        #expect(body["error"]?["type"]?.stringValue == "invalid_request_error")
        #expect(body["error"]?["param"]?.stringValue == "messages")
        #expect(body["error"]?["code"]?.stringValue == "invalid_request")
    }

    @Test func googleEnvelope() throws {
        let error = FlashgateError(.notFound, "models/x is not found")
        let body = try JSONParser.parse(error.googleBody())
        #expect(body["error"]?["code"]?.intValue == 404)
        #expect(body["error"]?["status"]?.stringValue == "NOT_FOUND")
    }

    @Test func upstreamErrorKeepsStatusMessageAndBody() throws {
        let raw = Array(#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#.utf8)
        let error = FlashgateError.fromUpstream(status: 429, body: raw)
        #expect(error.httpStatus == 429)
        #expect(error.isRetryable)
        #expect(error.message == "Quota exceeded")
        #expect(error.googleBody() == raw)
        #expect(error.openAIType == "rate_limit_error")
    }

    @Test func retryability() {
        #expect(FlashgateError(.upstreamTimeout, "t").isRetryable)
        #expect(!FlashgateError.fromUpstream(status: 400, body: []).isRetryable)
        #expect(FlashgateError.fromUpstream(status: 503, body: []).isRetryable)
    }
}
