import FlashgateCore
import Foundation
import Logging

/// `flashgate ledger compact`: LMDB never gives freed pages back to the file system, so a ledger
/// whose rows retention has folded keeps its high-water size until it is copied compactly. The
/// copy (`mdb_env_copy2` with `MDB_CP_COMPACT`) is written next to the ledger, checked, flushed,
/// and renamed over `data.mdb` in one atomic step.
///
/// Invariant: the ledger is never swapped while another process has it open (a running server
/// would go on writing into the replaced file and lose those writes): compaction refuses, naming
/// that process. A crash at any point leaves either the old file or the new one, never a mix.
extension Ledger {
    package struct CompactionReport: Sendable, Equatable {
        package var before: LedgerStats
        package var after: LedgerStats
        package var retention: RetentionReport
    }

    /// Runs retention at `nowMs`, then compacts the ledger in `directory` in place.
    package static func compact(
        directory: String, mapSizeBytes: Int, config: LedgerConfig, nowMs: Int64,
        logger: Logger = Logger(label: "flashgate.ledger")
    ) throws -> CompactionReport {
        try refuseIfHeld(directory)
        let scratch = directory + "/compact.tmp"
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let ledger = try Ledger.open(directory: directory, maxSizeBytes: mapSizeBytes, logger: logger)
        let retention: RetentionReport
        let before: LedgerStats
        do {
            defer { ledger.close() }
            retention = try ledger.applyRetentionAndWait(
                nowMs: nowMs, rows: config.rowsRetention, rollups: config.rollupsRetention)
            before = try ledger.stats()
            try ledger.env.copyCompacted(to: scratch)
        }
        // The copy must open and hold what the ledger held before it replaces anything.
        let copy = try Ledger.open(directory: scratch, maxSizeBytes: mapSizeBytes, logger: logger)
        let copied = try copy.stats()
        copy.close()
        guard copied.rows == before.rows, copied.rollups == before.rollups,
            copied.openReservations == before.openReservations
        else {
            throw LedgerError(.open, "the compacted copy does not match the ledger; nothing was changed")
        }
        try flush(scratch + "/data.mdb")
        try refuseIfHeld(directory)
        guard rename(scratch + "/data.mdb", directory + "/data.mdb") == 0 else {
            throw LedgerError(.open, "cannot replace \(directory)/data.mdb: \(String(cString: strerror(errno)))")
        }
        try flush(directory)
        let reopened = try Ledger.open(directory: directory, maxSizeBytes: mapSizeBytes, logger: logger)
        defer { reopened.close() }
        return CompactionReport(before: before, after: try reopened.stats(), retention: retention)
    }

    /// Throws, naming the process, when another process has the ledger in `directory` open.
    package static func refuseIfHeld(_ directory: String) throws {
        if let pid = StoreEnvironment.holder(of: directory) {
            throw LedgerError(
                .inUse,
                "the ledger at \(directory) is open in process \(pid) (a running flashgate serve?): stop it, then compact"
            )
        }
    }

    private static func flush(_ path: String) throws {
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else { throw LedgerError(.open, "cannot open \(path) to flush it") }
        defer { _ = Foundation.close(fd) }
        guard fsync(fd) == 0 else {
            throw LedgerError(.open, "cannot flush \(path): \(String(cString: strerror(errno)))")
        }
    }
}
