import FlashgateCore
import Testing

/// Signatures another route issued are replaced by the skip value before a call goes out.
@Suite struct SignatureOriginsTests {
    /// In either of Gemini's spellings: a signature sent back as `thought_signature` (the proto
    /// name, which Gemini reads too) had gone to a route that did not issue it as it was, and
    /// Gemini refuses such a signature as corrupted.
    @Test(arguments: ["thoughtSignature", "thought_signature"])
    func aForeignSignatureIsReplacedInEitherSpelling(_ field: String) throws {
        let body = Array(
            #"{"contents":[{"role":"model","parts":[{"text":"a","\#(field)":"Rk9SRUlHTg=="},{"text":"b","\#(field)":"T1dO"}]}]}"#
                .utf8)
        let rewritten = try JSONParser.parse(SignatureOrigins.rewrite(body) { $0 == "Rk9SRUlHTg==" })
        let parts = rewritten["contents"]?[0]?["parts"]
        #expect(parts?[0]?[field]?.stringValue == SignatureOrigins.skipSignature)
        #expect(parts?[1]?[field]?.stringValue == "T1dO", "its own route's signature stays")
    }
}
