import FlashgateCore

/// One route's recent history: the last 256 times to first byte and the last 20 errors.
struct RouteStats: Sendable {
    static let latencyWindow = 256
    static let errorWindow = 20
    /// A derived hedge threshold needs this many samples.
    static let minimumSamples = 20

    struct RecentError: Sendable {
        var atMs: Int64
        var label: String
        var durationMs: Int64
    }

    var attempts = 0
    var answered = 0
    var failed = 0
    var latencies: [Duration] = []
    private var nextLatency = 0
    var errors: [RecentError] = []

    mutating func add(_ attempt: AttemptRecord, atMs: Int64) {
        attempts += 1
        switch attempt.outcome {
        case .answered:
            answered += 1
            if latencies.count < Self.latencyWindow {
                latencies.append(attempt.duration)
            } else {
                latencies[nextLatency] = attempt.duration
            }
            nextLatency = (nextLatency + 1) % Self.latencyWindow
        case .cancelled:
            break
        default:
            failed += 1
            errors.append(RecentError(atMs: atMs, label: attempt.label, durationMs: attempt.duration.milliseconds))
            if errors.count > Self.errorWindow { errors.removeFirst(errors.count - Self.errorWindow) }
        }
    }

    /// Nearest-rank percentile of the recent times to first byte.
    func percentile(_ p: Int, minimumSamples: Int) -> Duration? {
        guard latencies.count >= max(1, minimumSamples) else { return nil }
        let sorted = latencies.sorted()
        let rank = max(1, (p * sorted.count + 99) / 100)
        return sorted[min(sorted.count, rank) - 1]
    }
}
