import FlashgateCore
import FlashgateStorage

/// Puts every refusal in the ledger's counters (by hour, team, key and reason) as the refused
/// response starts, so an admin read that comes after the refusal sees it. Counting never waits
/// for the disk: the ledger folds the counts into its writer's next group commit.
///
/// Invariant: team and key are the configured ids of the caller, or empty when the caller was
/// not known (a 401, a request refused before it was identified); never a presented key.
struct RefusalRecorder: TelemetrySink {
    let ledger: Ledger
    let nowMilliseconds: @Sendable () -> Int64

    func finished(_ summary: RequestRecord.Summary) {}

    func refused(_ summary: RequestRecord.Summary) {
        guard let reason = summary.refused else { return }
        ledger.countRefusal(timeMs: nowMilliseconds(), team: summary.team ?? "", key: summary.key ?? "", reason: reason)
    }
}
