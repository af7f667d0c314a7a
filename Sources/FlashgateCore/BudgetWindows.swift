import Foundation
import Synchronization

/// The current window of each budget period (its ledger key and its bounds), worked out from the
/// calendar once per window instead of on every admission: the calendar arithmetic of one period
/// key and end cost about 15,000 instructions, and admission asks for every budget line of a
/// caller several times per request.
///
/// Invariant: a remembered window is used only for instants inside it (`start ≤ now < end`), so
/// a clock crossing midnight, the 1st or a Monday — or moved back by a test — gets the calendar's
/// answer; `total` has no bounds and one key forever.
package final class BudgetWindows: Sendable {
    package struct Window: Sendable, Equatable {
        package var key: String
        package var start: Date?
        package var end: Date?

        /// Whether `now` falls inside the bounds (never, for a window without them).
        func contains(_ now: Date) -> Bool {
            guard let start, let end else { return false }
            return start <= now && now < end
        }
    }

    package let timeZone: TimeZone
    private let windows = Mutex<[BudgetPeriod: Window]>([:])

    package init(timeZone: TimeZone) { self.timeZone = timeZone }

    package func window(_ period: BudgetPeriod, at now: Date) -> Window {
        // `total` has one window forever; any other period is remembered only inside its bounds
        // (should the calendar give none, it is asked every time, as before the memo).
        if let known = windows.withLock({ $0[period] }), period == .total || known.contains(now) { return known }
        let window = Window(
            key: period.key(at: now, timeZone: timeZone), start: period.start(at: now, timeZone: timeZone),
            end: period.end(after: now, timeZone: timeZone))
        windows.withLock { $0[period] = window }
        return window
    }
}
