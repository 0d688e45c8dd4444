import DossierModel

/// Working days and the deadlines of Art. 12(3), counted as Regulation 1182/71 counts periods.
///
/// ```swift
/// let calendar = WorkingCalendar(country: "PL")        // or (country: "DE", region: "BY")
/// calendar.deadline(received: Day("2026-01-31")!, months: 1)   // 2026-03-02: 28 Feb 2026 is a Saturday
/// ```
public struct WorkingCalendar: Sendable {
    public let country: String?
    public let region: String?
    public let extra: Set<Day>
    private let holidays: Set<Day>

    /// The calendar of `country` (and `region`) from `HolidayTable`, plus `extra` days; a country the
    /// table does not know has weekends and `extra` only.
    public init(country: String?, region: String? = nil, extra: [Day] = []) {
        self.country = country
        self.region = region
        self.extra = Set(extra)
        holidays = country.flatMap { try? HolidayTable.days(country: $0, region: region) } ?? []
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

    /// A public holiday of the calendar on a weekday (the table keeps only those), or an extra day.
    public func isHoliday(_ day: Day) -> Bool {
        extra.contains(day) || holidays.contains(day)
    }

    /// Whether the table has the public holidays of `day`'s year (`HolidayTable.years`).
    public func covers(_ day: Day) -> Bool {
        country == nil || (HolidayTable.firstYear...HolidayTable.lastYear).contains(day.year)
    }

    /// What `validate` and the README say: `public holidays of DE-BY (2020–2045, holidays 0.109)`.
    public var description: String {
        guard let country, HolidayTable.countries.contains(country) else { return "weekends only (no public holiday calendar)" }
        let name = region.map { "\(country)-\($0)" } ?? country
        return "public holidays of \(name) (\(HolidayTable.years), from \(HolidayTable.source))"
    }
}
