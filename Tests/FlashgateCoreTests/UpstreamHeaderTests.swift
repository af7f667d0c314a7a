import Testing

@testable import FlashgateCore

@Suite struct UpstreamHeaderTests {
    @Test func namesMatchInAnyCaseAndNothingElse() {
        let headers = [
            UpstreamHeader("Content-Type", "application/json"), UpstreamHeader("RETRY-AFTER", "7"),
            UpstreamHeader("x-gemini-service-tier", "flex"), UpstreamHeader("retry-after", "9"),
            UpstreamHeader("X-Gemini-Service-Tierx", "no"), UpstreamHeader("content-typé", "no"),
        ]
        #expect(headers.value(of: "content-type") == "application/json")
        #expect(headers.value(of: "retry-after") == "7", "the first of two")
        #expect(headers.value(of: "x-gemini-service-tier") == "flex")
        #expect(headers.value(of: "content-length") == nil)
        #expect(!UpstreamHeader("content-typ", "").named("content-type"))
        #expect(!UpstreamHeader("content-typé", "").named("content-type"))
        #expect(UpstreamHeader("CoNtEnT-tYpE", "").named("content-type"))
        #expect(!UpstreamHeader("content_type", "").named("content-type"))
    }
}
