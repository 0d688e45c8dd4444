import DossierLedger
import DossierModel
import Testing

@Suite struct WorkingCalendarTests {
    let pl = WorkingCalendar(country: "PL")

    func d(_ s: String) -> Day { Day(s)! }

    @Test(arguments: [
        ("2026-01-31", "2026-03-02"),  // 28 Feb 2026 is a Saturday
        ("2024-01-31", "2024-02-29"),  // leap year, Thursday
        ("2025-06-15", "2025-07-15"),
        ("2026-10-11", "2026-11-12"),  // 11 Nov: Independence Day
        ("2026-11-24", "2026-12-28"),  // 24, 25, 26 Dec holidays, 27 a Sunday
        ("2026-05-04", "2026-06-05"),  // 4 June 2026: Corpus Christi
        ("2026-03-06", "2026-04-07"),  // 6 Apr 2026: Easter Monday
    ])
    func oneMonthThenNextWorkingDay(_ pair: (String, String)) {
        #expect(pl.deadline(received: d(pair.0), months: 1) == d(pair.1))
    }

    @Test func extensionCountsFromReceipt() {
        #expect(pl.deadline(received: d("2026-01-31"), months: 3) == d("2026-04-30"))
    }

    @Test func easterSundays() {
        #expect(WorkingCalendar.easterSunday(2024) == d("2024-03-31"))
        #expect(WorkingCalendar.easterSunday(2025) == d("2025-04-20"))
        #expect(WorkingCalendar.easterSunday(2026) == d("2026-04-05"))
        #expect(WorkingCalendar.easterSunday(2038) == d("2038-04-25"))
    }

    @Test func christmasEveIsAHolidayFrom2025() {
        #expect(pl.isHoliday(d("2025-12-24")))
        #expect(!pl.isHoliday(d("2024-12-24")))
    }

    @Test func extraDatesAreHolidays() {
        let c = WorkingCalendar(country: nil, extra: [d("2026-07-15")])
        #expect(c.deadline(received: d("2026-06-15"), months: 1) == d("2026-07-16"))
    }

    @Test func dayArithmetic() {
        #expect(d("2026-01-31").adding(months: 1) == d("2026-02-28"))
        #expect(d("2026-03-31").adding(months: -1) == d("2026-02-28"))
        #expect(d("1970-01-01").weekday == 4)
        #expect(Day(ordinal: d("2026-11-24").ordinal) == d("2026-11-24"))
        #expect(Day("2026-02-30") == nil)
        #expect(Period("P3M")!.before(d("2026-05-31")) == d("2026-02-28"))
    }
}
