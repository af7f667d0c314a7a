import Foundation
import Testing

@testable import FlashgateCore

/// The remembered windows must give, for any instant in any order, the calendar's own answer:
/// across midnights, Mondays, month ends and a DST change, and with the clock moved back.
@Suite struct BudgetWindowsTests {
    @Test(arguments: ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
    func theRememberedWindowIsTheCalendarsAnswer(zone: String) throws {
        let timeZone = try #require(TimeZone(identifier: zone))
        let windows = BudgetWindows(timeZone: timeZone)
        var random = SeededRandom(seed: 1206)
        // 2026-03-20 to 2026-04-10 covers Europe's and a month's turn; steps of up to 7 hours,
        // with one in five steps going back.
        var now = Date(timeIntervalSince1970: 1_773_964_800)
        for _ in 0..<2000 {
            let step = Double(Int.random(in: 1...25_200, using: &random))
            now += Int.random(in: 0..<5, using: &random) == 0 ? -step : step
            for period in BudgetPeriod.allCases {
                let window = windows.window(period, at: now)
                #expect(window.key == period.key(at: now, timeZone: timeZone), "\(period) at \(now) in \(zone)")
                #expect(window.end == period.end(after: now, timeZone: timeZone), "\(period) at \(now) in \(zone)")
                #expect(window.start == period.start(at: now, timeZone: timeZone), "\(period) at \(now) in \(zone)")
            }
        }
    }

    @Test func aWindowIsUsedUpToItsEndAndNotAtIt() throws {
        let windows = BudgetWindows(timeZone: try #require(TimeZone(identifier: "UTC")))
        let lastSecond = Date(timeIntervalSince1970: 1_798_761_599)  // 2026-12-31T23:59:59Z
        #expect(windows.window(.day, at: lastSecond).key == "day:2026-12-31")
        #expect(windows.window(.day, at: lastSecond + 1).key == "day:2027-01-01")
        #expect(windows.window(.month, at: lastSecond).key == "month:2026-12")
        #expect(windows.window(.month, at: lastSecond + 1).key == "month:2027-01")
        #expect(windows.window(.total, at: lastSecond + 1).key == "total")
    }
}
