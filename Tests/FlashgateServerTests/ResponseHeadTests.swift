import FlashgateCore
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
        #expect(ASCIICase.equals("X-Request-ID".utf8, "x-request-id"))
        #expect(ASCIICase.equals("content-length".utf8, "content-length"))
        #expect(!ASCIICase.equals("x-request-ie".utf8, "x-request-id"))
        #expect(!ASCIICase.equals("x-request-id-2".utf8, "x-request-id"))
        #expect(!ASCIICase.equals("".utf8, "connection"))
    }
}
