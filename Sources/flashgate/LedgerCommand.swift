import ArgumentParser
import FlashgateCore
import FlashgateServer
import FlashgateStorage
import Foundation
import Logging

/// `flashgate ledger …`: look into, export and compact the usage ledger from outside the server.
struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Show, export or compact the usage ledger.",
        discussion: """
            The ledger is an LMDB file in <store>/ledger: one row per paid request, hourly rollups for \
            cache hits, joined followers and rows older than ledger.retention.rows, refusal counters and \
            budget running totals. `stats` and `export` read a consistent snapshot and work while \
            `flashgate serve` runs; `compact` refuses while any other process has the ledger open.
            """,
        subcommands: [Stats.self, Compact.self, Export.self, Soak.self])

    static let wallClockMs: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// Where the ledger is and how it is kept: `--store DIR`, or the store path and `ledger:`
/// settings of `--config FILE`, or `./.flashgate` with the defaults.
struct LedgerLocation: ParsableArguments {
    @Option(name: .long, help: "Store directory (default ./.flashgate); the ledger is <store>/ledger.")
    var store: String?

    @Option(name: .long, help: "YAML config file whose store.path and ledger settings to use.")
    var config: String?

    /// The ledger directory, its map size and its retention settings.
    func resolve() throws -> (directory: String, mapSizeBytes: Int, settings: LedgerConfig) {
        var storeSettings = StoreConfig()
        var ledgerSettings = LedgerConfig()
        if let config {
            do {
                let loaded = try ConfigFile.load(path: config, environment: ProcessInfo.processInfo.environment, secrets: .notNeeded)
                storeSettings = loaded.store
                ledgerSettings = loaded.ledger
            } catch {
                FileHandle.standardError.write(Data("flashgate: \(config): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        if let store { storeSettings.path = store }
        let directory = storeSettings.path + "/ledger"
        guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
            FileHandle.standardError.write(Data("flashgate: no ledger at \(directory)\n".utf8))
            throw ExitCode(1)
        }
        return (directory, ledgerSettings.maxSizeBytes ?? storeSettings.maxSizeBytes, ledgerSettings)
    }

    /// Opens the existing ledger, or exits 1 saying why.
    func open() throws -> (Ledger, LedgerConfig) {
        let (directory, size, settings) = try resolve()
        do {
            return (
                try Ledger.open(directory: directory, maxSizeBytes: size, logger: Logger(label: "flashgate")), settings
            )
        } catch {
            FileHandle.standardError.write(Data("flashgate: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension LedgerCommand {
    /// `flashgate ledger stats`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the ledger's size, rows, rollups, oldest row and open reservations.",
            discussion: """
                used is what the databases occupy now; file is the data file's high-water mark (LMDB \
                reuses freed pages but never shrinks the file: `flashgate ledger compact` does); map \
                is ledger.max_size, the most it may hold. rows are per-request rows (kept for \
                ledger.retention.rows), rollups hourly sums (kept for ledger.retention.rollups).
                """)

        @OptionGroup var location: LedgerLocation
        @Flag(name: .long, help: "Print JSON instead of text.") var json = false

        func run() throws {
            let (ledger, settings) = try location.open()
            defer { ledger.close() }
            let stats: LedgerStats
            do { stats = try ledger.stats() } catch {
                FileHandle.standardError.write(Data("flashgate: \(error)\n".utf8))
                throw ExitCode(1)
            }
            print(json ? JSONWriter.string(Self.json(stats, settings)) : Self.text(stats, settings))
        }

        static func json(_ s: LedgerStats, _ settings: LedgerConfig) -> JSONValue {
            func time(_ ms: Int64?) -> JSONValue { ms.map { .string(LedgerExport.iso($0)) } ?? .null }
            return [
                "map_size_bytes": JSONValue(s.mapSizeBytes), "file_bytes": JSONValue(s.fileBytes),
                "used_bytes": JSONValue(s.dataBytes), "row_bytes": JSONValue(s.rowBytes),
                "page_size": JSONValue(s.pageSize), "rows": JSONValue(s.rows), "rollups": JSONValue(s.rollups),
                "refusal_counters": JSONValue(s.refusalCounters), "open_reservations": JSONValue(s.openReservations),
                "open_leases": JSONValue(s.openLeases), "leased_usd": .string(s.leasedAmount.dollars),
                "settled_markers": JSONValue(s.settledMarkers), "oldest_row": time(s.oldestRowMs),
                "newest_row": time(s.newestRowMs), "oldest_rollup_hour": time(s.oldestRollupHourMs),
                "retention_rows_seconds": JSONValue(Int(settings.rowsRetention.milliseconds / 1000)),
                "retention_rollups_seconds": JSONValue(Int(settings.rollupsRetention.milliseconds / 1000)),
            ]
        }

        static func text(_ s: LedgerStats, _ settings: LedgerConfig) -> String {
            func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
            func percent(_ part: Int, _ whole: Int) -> String {
                whole > 0 ? String(format: "%.1f%%", 100 * Double(part) / Double(whole)) : "-"
            }
            func days(_ d: Duration) -> String { String(format: "%.3gd", Double(d.milliseconds) / 86_400_000) }
            let lines: [(String, String)] = [
                ("used", "\(mib(s.dataBytes)) of \(mib(s.mapSizeBytes)) map (\(percent(s.dataBytes, s.mapSizeBytes)))"),
                ("file", "\(mib(s.fileBytes)) (\(mib(max(0, s.fileBytes - s.dataBytes))) free pages to reuse)"),
                ("rows", "\(s.rows) (\(mib(s.rowBytes)), kept \(days(settings.rowsRetention)))"),
                ("rollups", "\(s.rollups) hourly (kept \(days(settings.rollupsRetention)))"),
                ("refusal counters", "\(s.refusalCounters)"),
                ("open reservations", "\(s.openReservations)"),
                ("open leases", "\(s.openLeases) ($\(s.leasedAmount.dollars) leased)"),
                ("oldest row", s.oldestRowMs.map(LedgerExport.iso) ?? "-"),
                ("newest row", s.newestRowMs.map(LedgerExport.iso) ?? "-"),
                ("oldest rollup", s.oldestRollupHourMs.map(LedgerExport.iso) ?? "-"),
            ]
            let width = lines.map(\.0.count).max() ?? 0
            return lines.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }
                .joined(separator: "\n")
        }
    }
}
