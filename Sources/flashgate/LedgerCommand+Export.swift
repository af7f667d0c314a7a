import ArgumentParser
import FlashgateCore
import FlashgateStorage
import Foundation

extension LedgerCommand {
    /// `flashgate ledger export`.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the ledger's rows and hourly rollups of a time range as CSV or JSON lines.",
            discussion: """
                For finance: one line per request row (kind=row, requests=1) and per hourly rollup \
                (kind=rollup: cache hits, joined followers and rows older than ledger.retention.rows, \
                summed by team, key, model, route, tier, cache status and outcome; its time is the start \
                of its UTC hour), oldest first. Columns: \(LedgerExport.columns.joined(separator: ", ")). \
                cost_usd is dollars with 6 decimals, exact. Rows count when --from <= time < --to; \
                rollups when their hour starts in that range with --from rounded down to its hour \
                (the rule `flashgate usage` and /admin/usage follow, so the sums agree). Refusals are \
                not exported (they cost nothing; see `flashgate usage`). Times: 2026-11-25 (UTC \
                midnight), 2026-11-25T10:00:00Z or Unix milliseconds.
                """)

        @OptionGroup var location: LedgerLocation
        @Option(name: .long, help: "Start of the range (inclusive); default: the oldest entry.") var from: String?
        @Option(name: .long, help: "End of the range (exclusive); default: now and later.") var to: String?
        @Option(name: .long, help: "csv or jsonl.") var format: String = "csv"

        func validate() throws {
            guard LedgerExport.Format(rawValue: format) != nil else {
                throw ValidationError("--format: expected csv or jsonl, got '\(format)'")
            }
            for (name, value) in [("--from", from), ("--to", to)] {
                if let value, LedgerExport.parseTime(value) == nil {
                    throw ValidationError(
                        "\(name): expected 2026-11-25, 2026-11-25T10:00:00Z or Unix ms, got '\(value)'")
                }
            }
        }

        func run() throws {
            let (ledger, _) = try location.open()
            defer { ledger.close() }
            let records: [SettlementRecord]
            do {
                records = try ledger.usageRecords(
                    from: from.flatMap(LedgerExport.parseTime), to: to.flatMap(LedgerExport.parseTime))
            } catch {
                FileHandle.standardError.write(Data("flashgate: \(error)\n".utf8))
                throw ExitCode(1)
            }
            for line in LedgerExport.lines(records, format: LedgerExport.Format(rawValue: format) ?? .csv) {
                print(line)
            }
        }
    }
}
