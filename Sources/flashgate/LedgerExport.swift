import FlashgateCore
import FlashgateStorage
import Foundation

/// The lines `flashgate ledger export` prints: one per request row and one per hourly rollup, in
/// time order, as CSV (with a header) or JSON lines. Pure, so tests parse what it makes. Money is
/// dollars with six decimals (exact, from integer micro-dollars); a rollup's `requests` is how many
/// requests it sums, a row's is 1; a rollup's time is the start of its UTC hour.
enum LedgerExport {
    enum Format: String, CaseIterable {
        case csv, jsonl
    }

    static let columns = [
        "kind", "time", "time_ms", "team", "key", "model", "route", "tier", "cache", "outcome", "requests",
        "prompt_tokens", "cached_tokens", "output_tokens", "thoughts_tokens", "search_queries", "cost_usd",
    ]

    static func lines(_ records: [SettlementRecord], format: Format) -> [String] {
        let body = records.map { fields($0) }
        switch format {
        case .csv:
            return [columns.joined(separator: ",")] + body.map { $0.map { csv($0.text) }.joined(separator: ",") }
        case .jsonl:
            return body.map { values in
                JSONWriter.string(.object(JSONObject(zip(columns, values).map { JSONField($0, $1.json) })))
            }
        }
    }

    private enum Cell {
        case text(String)
        case number(Int)
        /// Exact decimal dollars: a JSON number, not a float.
        case money(MicroUSD)

        var text: String {
            switch self {
            case .text(let s): s
            case .number(let n): String(n)
            case .money(let m): m.dollars
            }
        }
        var json: JSONValue {
            switch self {
            case .text(let s): .string(s)
            case .number(let n): JSONValue(n)
            case .money(let m): .number(m.dollars)
            }
        }
    }

    private static func fields(_ r: SettlementRecord) -> [Cell] {
        [
            .text(r.isRollup ? "rollup" : "row"), .text(iso(r.timeMs)), .number(Int(r.timeMs)), .text(r.team),
            .text(r.key), .text(r.model), .text(r.route), .text(r.serviceTier), .text(r.cacheStatus), .text(r.outcome),
            .number(r.requests), .number(r.promptTokens), .number(r.cachedTokens), .number(r.outputTokens),
            .number(r.thoughtsTokens), .number(r.searchQueries), .money(r.cost),
        ]
    }

    /// RFC 4180: quoted when it holds a comma, quote or line break.
    static func csv(_ field: String) -> String {
        // By bytes: "\r\n" is one Character in Swift, equal to neither "\r" nor "\n".
        guard field.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 })
        else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func iso(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// `2026-11-25` (UTC midnight), an ISO 8601 time (`2026-11-25T10:00:00Z`) or Unix milliseconds.
    static func parseTime(_ text: String) -> Int64? {
        if let ms = Int64(text) { return ms }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withFullDate]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        return nil
    }
}
