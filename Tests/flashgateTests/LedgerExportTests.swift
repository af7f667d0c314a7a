import Testing

@testable import flashgate

/// `flashgate ledger export --format csv` quotes by RFC 4180.
@Suite struct LedgerExportTests {
    /// A field holding a CR LF pair is quoted. Swift reads "\r\n" as one Character, equal to
    /// neither "\r" nor "\n", so the check by Character let it through raw and the CSV split a
    /// record in two.
    @Test(arguments: [
        ("plain", "plain"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("r1\nr2", "\"r1\nr2\""),
        ("r1\rr2", "\"r1\rr2\""), ("r1\r\nr2", "\"r1\r\nr2\""),
    ])
    func fieldsAreQuotedWhenTheyMustBe(field: String, expected: String) {
        #expect(LedgerExport.csv(field) == expected)
    }
}
