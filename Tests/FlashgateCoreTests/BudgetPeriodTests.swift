import Foundation
import Testing

@testable import FlashgateCore

@Suite struct BudgetPeriodTests {
    let newYork = TimeZone(identifier: "America/New_York")!
    let utc = TimeZone(identifier: "UTC")!

    func date(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    @Test func keys() {
        let d = date("2026-11-25T12:00:00Z")
        #expect(BudgetPeriod.day.key(at: d, timeZone: utc) == "day:2026-11-25")
        #expect(BudgetPeriod.week.key(at: d, timeZone: utc) == "week:2026-W48")
        #expect(BudgetPeriod.month.key(at: d, timeZone: utc) == "month:2026-11")
        #expect(BudgetPeriod.total.key(at: d, timeZone: utc) == "total")
        #expect(BudgetPeriod.total.end(after: d, timeZone: utc) == nil)
    }

    @Test func localCalendarDecidesTheDayAndMonth() {
        // 03:30 UTC on 1 December is still 30 November in New York.
        let d = date("2026-12-01T03:30:00Z")
        #expect(BudgetPeriod.day.key(at: d, timeZone: newYork) == "day:2026-11-30")
        #expect(BudgetPeriod.month.key(at: d, timeZone: newYork) == "month:2026-11")
        #expect(BudgetPeriod.month.key(at: d, timeZone: utc) == "month:2026-12")
        #expect(BudgetPeriod.month.end(after: d, timeZone: newYork) == date("2026-12-01T05:00:00Z"))
        #expect(BudgetPeriod.month.secondsUntilEnd(after: d, timeZone: newYork) == 5_400)
    }

    @Test func isoWeeksStartOnMondayAndBelongToTheISOYear() {
        // Sunday 3 January 2027 is in 2026-W53; Monday 4 January starts 2027-W01.
        #expect(BudgetPeriod.week.key(at: date("2027-01-03T12:00:00Z"), timeZone: utc) == "week:2026-W53")
        #expect(BudgetPeriod.week.key(at: date("2027-01-04T00:00:00Z"), timeZone: utc) == "week:2027-W01")
        // Monday 29 December 2025 is already 2026-W01.
        #expect(BudgetPeriod.week.key(at: date("2025-12-29T08:00:00Z"), timeZone: utc) == "week:2026-W01")
        #expect(BudgetPeriod.week.end(after: date("2026-11-25T12:00:00Z"), timeZone: utc) == date("2026-11-30T00:00:00Z"))
    }

    @Test func dstDaysAreTwentyThreeAndTwentyFiveHours() {
        // US clocks spring forward on 8 March 2026 and fall back on 1 November 2026.
        let spring = date("2026-03-08T06:00:00Z")  // 01:00 EST
        #expect(BudgetPeriod.day.key(at: spring, timeZone: newYork) == "day:2026-03-08")
        #expect(BudgetPeriod.day.end(after: spring, timeZone: newYork) == date("2026-03-09T04:00:00Z"))
        let fall = date("2026-11-01T05:30:00Z")  // 01:30 EDT, the first of two
        #expect(BudgetPeriod.day.key(at: fall, timeZone: newYork) == "day:2026-11-01")
        #expect(BudgetPeriod.day.end(after: fall, timeZone: newYork) == date("2026-11-02T05:00:00Z"))
        let spanned = date("2026-11-02T05:00:00Z").timeIntervalSince(date("2026-11-01T04:00:00Z"))
        #expect(spanned == 25 * 3600)
    }
}
