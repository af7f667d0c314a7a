import NIOHTTP1
import Testing

@testable import FlashgateServer

/// The fields Flashgate sets on every response head (request id, length, connection) appear
/// once: added when the answer's own headers lack them, replaced in any case when they have them.
@Suite struct ResponseHeadTests {
    @Test func fieldsFlashgateSetsAppearOnce() {
        let own = [("content-type", "application/json"), ("Content-Length", "5"), ("X-REQUEST-ID", "client")]
        var fields = HTTPHeaders(own)
        ResponseWriter.set(&fields, "content-length", "10", from: own)
        ResponseWriter.set(&fields, "x-request-id", "fg-1", from: own)
        ResponseWriter.set(&fields, "connection", "close", from: own)
        #expect(fields["content-length"] == ["10"])
        #expect(fields["x-request-id"] == ["fg-1"])
        #expect(fields["connection"] == ["close"])
        #expect(fields["content-type"] == ["application/json"])
        #expect(fields.count == 4)
    }

    @Test func namesCompareInAnyASCIICase() {
        #expect(ResponseWriter.equalsLowercase("X-Request-ID", "x-request-id"))
        #expect(ResponseWriter.equalsLowercase("content-length", "content-length"))
        #expect(!ResponseWriter.equalsLowercase("x-request-ie", "x-request-id"))
        #expect(!ResponseWriter.equalsLowercase("x-request-id-2", "x-request-id"))
        #expect(!ResponseWriter.equalsLowercase("", "connection"))
    }
}
