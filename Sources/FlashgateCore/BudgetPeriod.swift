import Foundation

/// The calendar window a budget's spend accumulates over. Periods follow the configured time
/// zone's calendar (a "day" around a DST change is 23 or 25 hours), so a team's monthly budget
/// resets at local midnight on the 1st, as its owners read their bill. Weeks are ISO weeks:
/// they start on Monday and belong to the ISO week-numbering year.
package enum BudgetPeriod: String, Sendable, CaseIterable {
    case day, week, month, total

    /// The ledger key of the period containing `date`: `day:2026-11-25`, `week:2026-W48`,
    /// `month:2026-11` or `total`. Spend recorded under one key never counts against another.
    package func key(at date: Date, timeZone: TimeZone) -> String {
        let calendar = Self.calendar(timeZone)
        switch self {
        case .day:
            let c = calendar.dateComponents([.year, .month, .day], from: date)
            return "day:\(Self.pad(c.year!, 4))-\(Self.pad(c.month!, 2))-\(Self.pad(c.day!, 2))"
        case .week:
            let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return "week:\(Self.pad(c.yearForWeekOfYear!, 4))-W\(Self.pad(c.weekOfYear!, 2))"
        case .month:
            let c = calendar.dateComponents([.year, .month], from: date)
            return "month:\(Self.pad(c.year!, 4))-\(Self.pad(c.month!, 2))"
        case .total:
            return "total"
        }
    }

    /// The first instant after the period containing `date` (local midnight of the next day,
    /// Monday or 1st), or `nil` for `total`, which never rolls over. A hard budget's
    /// Retry-After is the time until this instant.
    package func end(after date: Date, timeZone: TimeZone) -> Date? {
        interval(containing: date, timeZone: timeZone)?.end
    }

    /// The first instant of the period containing `date` (local midnight, Monday or the 1st), or
    /// `nil` for `total`, which has no start.
    package func start(at date: Date, timeZone: TimeZone) -> Date? {
        interval(containing: date, timeZone: timeZone)?.start
    }

    /// The period containing `date` in `timeZone`; `nil` for `total`.
    private func interval(containing date: Date, timeZone: TimeZone) -> DateInterval? {
        let component: Calendar.Component
        switch self {
        case .day: component = .day
        case .week: component = .weekOfYear
        case .month: component = .month
        case .total: return nil
        }
        return Self.calendar(timeZone).dateInterval(of: component, for: date)
    }

    /// Whole seconds from `date` until the period rolls over, rounded up (at least 1).
    package func secondsUntilEnd(after date: Date, timeZone: TimeZone) -> Int? {
        guard let end = end(after: date, timeZone: timeZone) else { return nil }
        return max(1, Int(end.timeIntervalSince(date).rounded(.up)))
    }

    /// ISO 8601 calendar: Monday-first weeks, the first week being the one with 4 January.
    private static func calendar(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        return calendar
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
