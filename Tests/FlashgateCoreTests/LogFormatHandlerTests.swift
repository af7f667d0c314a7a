import Logging
import Testing

@testable import FlashgateCore

/// The logfmt line is built as bytes with a fast path for plain values; it must write exactly
/// what the general rule (`quote(LogText.safe(value))`) writes, for any value.
@Suite struct LogFormatHandlerTests {
    static let alphabet: [String] = [
        "a", "Z", "0", "-", ".", "/", ":", " ", "\"", "=", "\\", "\n", "\r", "\t", "\u{1b}", "\u{0}", "\u{7f}",
        "é", "\u{85}", "\u{2028}", "\u{202e}", "…", "🙂",
    ]

    @Test func theFastPathWritesWhatTheGeneralRuleWrites() {
        var random = SeededRandom(seed: 20261206)
        var values = ["", "plain", "with space", "a=b", #"say "hi""#, String(repeating: "x", count: LogText.valueLimit),
            String(repeating: "x", count: LogText.valueLimit + 1), String(repeating: "é", count: 1500)]
        for _ in 0..<5000 {
            let length = Int.random(in: 0...12, using: &random)
            values.append((0..<length).map { _ in Self.alphabet.randomElement(using: &random)! }.joined())
        }
        for value in values {
            var out: [UInt8] = []
            LogFormatHandler.appendValue(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == LogFormatHandler.quote(LogText.safe(value)), "\(value.debugDescription)")
        }
    }

    @Test func aLogfmtLineHasSortedKeysAndEscapedValues() {
        let line = LogFormatHandler.logfmtLine(
            time: "2026-12-06T16:41:00.120Z", level: .info, message: "request",
            ["status": "200", "model": "m\r\nlevel=error", "cost_usd": "0.001", "attempts": .stringConvertible(3)])
        #expect(
            line
                == #"time=2026-12-06T16:41:00.120Z level=info msg=request attempts=3 cost_usd=0.001 model="m\r\nlevel=error" status=200"#
                + "\n")
    }
}
