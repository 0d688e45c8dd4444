import DossierModel

/// Working days and the deadlines of Art. 12(3), counted as Regulation 1182/71 counts periods.
///
/// ```swift
/// let calendar = WorkingCalendar(country: "PL")
/// calendar.deadline(received: Day("2026-01-31")!, months: 1)   // 2026-03-02: 28 Feb 2026 is a Saturday
/// ```
public struct WorkingCalendar: Sendable {
    public let country: String?
    public let extra: Set<Day>

    public init(country: String?, extra: [Day] = []) {
        self.country = country
        self.extra = Set(extra)
    }

    /// A period of `months` from `received`: the same day-of-month, or the month's last day when it
    /// has none (Art. 3(2)(c)); moved to the next working day when it is a Saturday, Sunday or public
    /// holiday (Art. 3(4)).
    public func deadline(received: Day, months: Int) -> Day {
        var day = received.adding(months: months)
        while !isWorkingDay(day) { day = day.adding(days: 1) }
        return day
    }

    public func isWorkingDay(_ day: Day) -> Bool {
        day.weekday < 6 && !isHoliday(day)
    }

    public func isHoliday(_ day: Day) -> Bool {
        if extra.contains(day) { return true }
        switch country {
        case "PL": return Self.polishHolidays(day.year).contains(day)
        default: return false
        }
    }

    /// Polish public holidays (ustawa o dniach wolnych od pracy), with the Easter-based ones and
    /// 24 December from 2025 on.
    public static func polishHolidays(_ year: Int) -> Set<Day> {
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
    public static func easterSunday(_ year: Int) -> Day {
        let a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4
        let f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30
        let i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1
        return Day(year: year, month: month, day: day)!
    }
}
