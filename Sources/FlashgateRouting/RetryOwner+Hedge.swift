import FlashgateCore
import Logging

extension RetryOwner {
    struct Race: Sendable {
        var result: AttemptResult
        var records: [AttemptRecord]
        var hedgeStarted: Bool
        var loser: HedgeLoser?
        /// When neither attempt started: how the first one (not the hedge) ended.
        var primaryFate: AttemptFate?
    }

    private enum RaceEvent: Sendable {
        case finished(hedge: Bool, AttemptResult)
        case timer
        case timerCancelled
    }

    /// `first` now and, if it has not started answering after `threshold`, `twin` beside it; the
    /// first to start answering wins and the other is cancelled.
    func race(
        _ first: ResolvedRoute, _ twin: ResolvedRoute, threshold: Duration, _ call: UpstreamCall,
        admitHedge: @Sendable (ResolvedRoute) async -> Bool
    ) async -> Race {
        let deadline = clock.now().advanced(by: threshold)
        return await withTaskGroup(of: RaceEvent.self) { group in
            // Each attempt is awaited into a local before it is wrapped: a task returning an
            // aggregate built around an inline `await` is the shape Swift 6.3 miscompiles in
            // release builds (see `MediaFill`).
            group.addTask {
                let result = await self.attempt(first, call, hedge: false)
                return .finished(hedge: false, result)
            }
            group.addTask {
                do {
                    try await self.clock.sleep(until: deadline)
                    return .timer
                } catch {
                    return .timerCancelled
                }
            }
            var running = 1
            var hedgeStarted = false
            var records: [AttemptRecord] = []
            var lastFailure: AttemptResult?
            while let event = await group.next() {
                switch event {
                case .timerCancelled:
                    continue
                case .timer:
                    // The breaker first: an admission is a durable reservation, made only for a
                    // hedge that will really start (its settlement follows the hedge's fate).
                    guard running == 1, health.breakers.allow(twin.route.name, now: clock.now()), await admitHedge(twin)
                    else { continue }
                    hedgeStarted = true
                    running += 1
                    logger.info(
                        "hedging a slow upstream call",
                        metadata: [
                            "route": "\(first.route.name)", "hedge": "\(twin.route.name)", "after": "\(threshold)",
                        ])
                    group.addTask {
                        let result = await self.attempt(twin, call, hedge: true)
                        return .finished(hedge: true, result)
                    }
                case .finished(let isHedge, let result):
                    records.append(result.record)
                    running -= 1
                    if case .started = result {
                        group.cancelAll()
                        // The other attempt: still running (drained below), or already failed.
                        var loser: AttemptResult? = lastFailure
                        while let rest = await group.next() {
                            if case .finished(_, let other) = rest {
                                records.append(other.record)
                                loser = other
                            }
                        }
                        // A loser that started in the same instant is dropped unread (its transfer aborts).
                        let lost = hedgeStarted ? Self.fate(of: loser) : nil
                        return Race(result: result, records: records, hedgeStarted: hedgeStarted, loser: lost)
                    }
                    if lastFailure != nil || running == 0 {
                        group.cancelAll()
                        var other = lastFailure
                        while let rest = await group.next() {
                            if case .finished(_, let more) = rest {
                                records.append(more.record)
                                other = more
                            }
                        }
                        // Both failed: the hedge's reservation settles as the hedge ended; the
                        // first attempt's own reservation, as it ended.
                        let lost = hedgeStarted ? Self.fate(of: isHedge ? result : other) : nil
                        let primary = isHedge ? other : result
                        return Race(
                            result: result, records: records, hedgeStarted: hedgeStarted, loser: lost,
                            primaryFate: Self.fate(of: primary)?.fate)
                    }
                    lastFailure = result
                }
            }
            return Race(
                result: lastFailure
                    ?? .failed(
                        Self.cancelled, .unreachable,
                        AttemptRecord(route: first.route.name, outcome: .cancelled, duration: .zero), keyIndex: nil),
                records: records, hedgeStarted: hedgeStarted, loser: nil)
        }
    }

    /// How an attempt that did not serve the request ended: refused with a status or cancelled
    /// before it was sent (nothing to pay), or anything else (cancelled mid-flight, timed out, cut
    /// off), which may have been billed.
    static func fate(of result: AttemptResult?) -> HedgeLoser? {
        guard let result else { return nil }
        if case .status = result.record.outcome { return HedgeLoser(route: result.record.route, fate: .refused) }
        if !result.record.sent { return HedgeLoser(route: result.record.route, fate: .refused) }
        return HedgeLoser(route: result.record.route, fate: .cutOff)
    }
}
