import ArgumentParser
import FlashgateCore
import FlashgateStorage
import Foundation
import Logging

extension LedgerCommand {
    /// `flashgate ledger compact`.
    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run retention now, then copy the ledger compactly and swap the copy in.",
            discussion: """
                Folds rows older than ledger.retention.rows into hourly rollups and deletes rollups \
                older than ledger.retention.rollups (as a running server does every \
                ledger.retention.interval), then writes a compacted copy of the ledger (LMDB \
                copy-compaction: free pages dropped), checks it opens with the same rows, rollups and \
                open reservations, flushes it and renames it over <store>/ledger/data.mdb in one atomic \
                step. Budget totals are copied unchanged. Refuses (exit 3, naming the process) while \
                any other process has the ledger open: stop `flashgate serve` first. Needs free disk \
                space for the copy (about `used` in `flashgate ledger stats`).
                """)

        @OptionGroup var location: LedgerLocation

        func run() throws {
            let (directory, size, settings) = try location.resolve()
            let report: Ledger.CompactionReport
            do {
                report = try Ledger.compact(
                    directory: directory, mapSizeBytes: size, config: settings, nowMs: LedgerCommand.wallClockMs(),
                    logger: Logger(label: "flashgate"))
            } catch let error as LedgerError where error.reason == .inUse {
                FileHandle.standardError.write(Data("flashgate: \(error.message)\n".utf8))
                throw ExitCode(3)
            } catch {
                FileHandle.standardError.write(Data("flashgate: \(error)\n".utf8))
                throw ExitCode(1)
            }
            func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
            print(
                "retention: \(report.retention.rowsFolded) rows folded, \(report.retention.rollupsDeleted) rollups deleted"
            )
            print("file: \(mib(report.before.fileBytes)) -> \(mib(report.after.fileBytes))")
            print("rows: \(report.after.rows), rollups: \(report.after.rollups)")
        }
    }
}
