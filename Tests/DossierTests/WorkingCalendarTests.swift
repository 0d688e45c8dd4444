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
        #expect(Self.easterSunday(2024) == d("2024-03-31"))
        #expect(Self.easterSunday(2025) == d("2025-04-20"))
        #expect(Self.easterSunday(2026) == d("2026-04-05"))
        #expect(Self.easterSunday(2038) == d("2038-04-25"))
    }

    /// The generated table against Poland's statute, computed here independently (ustawa o dniach
    /// wolnych od pracy: the Easter-based days, and 24 December from 2025), every weekday of 2025–2045.
    @Test func theTableHasPolandsStatutoryHolidays() {
        for year in 2025...HolidayTable.lastYear {
            var day = Day(year: year, month: 1, day: 1)!
            let statute = Self.polishHolidays(year)
            while day.year == year {
                if day.weekday < 6 { #expect(pl.isHoliday(day) == statute.contains(day), "\(day)") }
                day = day.adding(days: 1)
            }
        }
    }

    @Test(arguments: [
        // Germany, Bavaria and Berlin: Corpus Christi (4 June 2026) is a holiday in Bavaria only.
        ("DE", "BY", "2026-05-04", "2026-06-05"),
        ("DE", nil, "2026-05-04", "2026-06-04"),
        ("DE", "BE", "2026-02-08", "2026-03-09"),   // 8 March 2026 is a Sunday; International Women's Day in Berlin does not move
        ("DE", nil, "2026-03-03", "2026-04-07"),     // Good Friday 3 April, then Easter Monday 6 April
        // France: Ascension (14 May 2026) and Whit Monday (25 May 2026).
        ("FR", nil, "2026-04-14", "2026-05-15"),
        ("FR", nil, "2026-04-25", "2026-05-26"),
        ("FR", "57", "2026-03-03", "2026-04-07"),  // Moselle keeps Good Friday (then the weekend, Easter Monday)
        ("FR", nil, "2026-03-03", "2026-04-03"),    // the rest of France does not
        // Poland: Easter Monday and Corpus Christi in 2027 (29 March, 27 May).
        ("PL", nil, "2027-02-28", "2027-03-30"),
        ("PL", nil, "2027-04-27", "2027-05-28"),
    ] as [(String, String?, String, String)])
    func movableHolidays(_ c: (String, String?, String, String)) {
        let calendar = WorkingCalendar(country: c.0, region: c.1)
        #expect(calendar.deadline(received: d(c.2), months: 1) == d(c.3))
    }

    @Test func regionsAndCountries() throws {
        #expect(HolidayTable.countries.count == 30)
        #expect(HolidayTable.regions(of: "DE").contains("BY"))
        #expect(throws: HolidayTable.Problem.unknownCountry) { try HolidayTable.days(country: "US") }
        #expect(throws: HolidayTable.Problem.self) { try HolidayTable.days(country: "DE", region: "XX") }
        #expect(WorkingCalendar(country: "US").description == "weekends only (no public holiday calendar)")
        #expect(WorkingCalendar(country: "DE", region: "BY").description.hasPrefix("public holidays of DE-BY (2020–2045, from holidays "))
        #expect(!WorkingCalendar(country: "DE").covers(d("2046-01-02")))
    }

    /// Polish public holidays by statute, with the Easter-based ones and 24 December from 2025 on.
    static func polishHolidays(_ year: Int) -> Set<Day> {
        let easter = easterSunday(year)
        var days: Set<Day> = [
            Day(year: year, month: 1, day: 1)!, Day(year: year, month: 1, day: 6)!,
            easter, easter.adding(days: 1), easter.adding(days: 49), easter.adding(days: 60),
            Day(year: year, month: 5, day: 1)!, Day(year: year, month: 5, day: 3)!,
            Day(year: year, month: 8, day: 15)!, Day(year: year, month: 11, day: 1)!,
            Day(year: year, month: 11, day: 11)!, Day(year: year, month: 12, day: 25)!,
            Day(year: year, month: 12, day: 26)!,
        ]
        if year >= 2025 { days.insert(Day(year: year, month: 12, day: 24)!) }
        return days
    }

    /// Easter Sunday in the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher).
    static func easterSunday(_ year: Int) -> Day {
        let a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4
        let f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30
        let i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1
        return Day(year: year, month: month, day: day)!
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
