import ArgumentParser
import FlashgateCore
import FlashgateStorage
import Foundation
import Logging

extension LedgerCommand {
    /// `flashgate ledger soak`: a hidden command for `make bench`. Settles `--requests` paid rows
    /// through the real ledger (reservation ids, group commits, durable) on a simulated clock that
    /// advances `--interval-ms` per request, running retention every simulated `--every` with rows
    /// kept `--rows-kept`, and prints the ledger's size after each cycle: it must stay flat after
    /// the first one. `--measure` instead writes 100,000 rows in the old (version 3) and the
    /// compact (version 4) encoding into two scratch ledgers and prints bytes per row for each.
    struct Soak: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write many ledger rows with short retention and print the ledger size (benchmark).",
            shouldDisplay: false)

        @Option(name: .long, help: "Store directory to create; the ledger is <store>/ledger.") var store: String
        @Option(name: .long, help: "Requests to settle in all.") var requests: Int = 2_000_000
        @Option(name: .long, help: "Simulated milliseconds between requests (10 = 100 requests/s).")
        var intervalMs: Int64 = 10
        @Option(name: .long, help: "Rows retention, e.g. 1h.") var rowsKept: String = "1h"
        @Option(name: .long, help: "Simulated time between retention runs, e.g. 10m.") var every: String = "10m"
        @Option(name: .long, help: "Settlements in flight at once.") var concurrency: Int = 512
        @Flag(name: .long, help: "Measure bytes per row, old and compact encoding.") var measure = false

        static let start: Int64 = 1_795_000_000_000

        static func row(_ i: Int, id: UInt64?, timeMs: Int64) -> SettlementRecord {
            var row = SettlementRecord(
                reservationID: id, timeMs: timeMs, team: "search", key: "ci-prod-\(i % 8)", model: "gemini-2.5-flash",
                route: "aistudio", promptTokens: 1_200 + i % 500, cachedTokens: i % 3 == 0 ? 512 : 0,
                outputTokens: 300 + i % 200, thoughtsTokens: i % 4 == 0 ? 150 : 0, cost: MicroUSD(Int64(480 + i % 300)),
                cacheStatus: "miss", outcome: "ok",
                budgetKeys: ["team:search:day:\(Ledger.utcDay(timeMs))", "key:ci-prod-\(i % 8):month:2026-11"])
            row.serviceTier = "standard"
            return row
        }

        func run() async throws {
            if measure { return try measureEncodings() }
            guard let kept = ConfigMap.parseDuration(rowsKept), let cycle = ConfigMap.parseDuration(every) else {
                throw ValidationError("--rows-kept and --every take durations such as 1h or 10m")
            }
            let ledger = try Ledger.open(
                directory: store + "/ledger", maxSizeBytes: 16 << 30, logger: Logger(label: "flashgate"))
            defer { ledger.close() }
            let perCycle = max(1, Int(cycle.milliseconds / intervalMs))
            print("cycle  sim_hours  requests  rows  rollups  used_mib  file_mib  folded  anon_mib")
            var done = 0
            var cycleIndex = 0
            // The file's size after the first cycle that folded rows, and the most it reached after.
            var firstFolded: Int?
            var largestAfter = 0
            // Anonymous memory (RssAnon, not the file-backed LMDB pages) the same way.
            var anonAtFirstFold = 0
            var largestAnonAfter = 0
            while done < requests {
                let count = min(perCycle, requests - done)
                let first = done
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in first..<(first + count) {
                        if i - first >= concurrency { try await group.next() }
                        group.addTask {
                            let id = ledger.nextReservationID()
                            try await ledger.settle(Self.row(i, id: id, timeMs: Self.start + Int64(i) * intervalMs))
                        }
                    }
                    try await group.waitForAll()
                }
                done += count
                cycleIndex += 1
                let now = Self.start + Int64(done) * intervalMs
                let report = try await ledger.applyRetention(nowMs: now, rows: kept, rollups: .seconds(400 * 86_400))
                let s = try ledger.stats()
                print(
                    String(
                        format: "%5d  %9.2f  %8d  %6d  %7d  %8.1f  %8.1f  %6d  %8.1f", cycleIndex,
                        Double(now - Self.start) / 3_600_000, done, s.rows, s.rollups, Double(s.dataBytes) / 1_048_576,
                        Double(s.fileBytes) / 1_048_576, report.rowsFolded, Double(Self.rssAnonBytes()) / 1_048_576))
                if firstFolded != nil {
                    largestAfter = max(largestAfter, s.fileBytes)
                    largestAnonAfter = max(largestAnonAfter, Self.rssAnonBytes())
                } else if report.rowsFolded > 0 {
                    firstFolded = s.fileBytes
                    anonAtFirstFold = Self.rssAnonBytes()
                }
            }
            if let firstFolded {
                let growth = 100 * Double(largestAfter - firstFolded) / Double(firstFolded)
                print(
                    String(
                        format: "file after the first retention cycle %.1f MiB, largest after it %.1f MiB (%+.1f%%)",
                        Double(firstFolded) / 1_048_576, Double(max(largestAfter, firstFolded)) / 1_048_576,
                        max(0, growth)))
                print(
                    String(
                        format: "anon RSS after the first retention cycle %.1f MiB, largest after it %.1f MiB",
                        Double(anonAtFirstFold) / 1_048_576, Double(max(largestAnonAfter, anonAtFirstFold)) / 1_048_576))
            }
        }

        /// `RssAnon` of this process from `/proc/self/status`, in bytes (0 where there is none).
        static func rssAnonBytes() -> Int {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
            for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
                return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
            }
            return 0
        }

        private func measureEncodings() throws {
            let n = 100_000
            for (name, legacy) in [("v3 (before)", true), ("v4 compact (after)", false)] {
                let directory = store + "/measure-" + (legacy ? "v3" : "v4")
                let ledger = try Ledger.open(
                    directory: directory, maxSizeBytes: 4 << 30, logger: Logger(label: "flashgate"))
                defer { ledger.close() }
                var chunk: [SettlementRecord] = []
                for i in 0..<n {
                    chunk.append(Self.row(i, id: UInt64(i + 1), timeMs: Self.start + Int64(i) * intervalMs))
                    if chunk.count == 10_000 || i == n - 1 {
                        try legacy ? ledger.appendLegacyRows(chunk) : ledger.appendRows(chunk)
                        chunk = []
                    }
                }
                let s = try ledger.stats()
                let sample = Self.row(1, id: 2, timeMs: Self.start)
                let valueBytes = legacy ? Ledger.legacyValueSize(sample) : Ledger.compactValueSize(sample)
                print(
                    "\(name): value \(valueBytes) B + key 16 B; requests pages per 100k rows: \(s.rowBytes / s.pageSize) "
                        + "(\(s.rowBytes / n) B/row), with exactly-once markers: "
                        + "\((s.dataBytes) / n) B/row")
            }
        }
    }
}
