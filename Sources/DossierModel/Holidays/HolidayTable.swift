
/// The public holidays of the EU and EEA states and their regions, generated from the `holidays`
/// package (PyPI) into `HolidayTable+Data.swift` by `generate.py` (`make holidays`), for the years
/// `firstYear...lastYear`.
///
/// ```swift
/// let bavaria = try HolidayTable.days(country: "DE", region: "BY")   // includes 6 January
/// HolidayTable.regions(of: "DE")                                      // ["Augsburg", "BB", "BE", …]
/// ```
public enum HolidayTable {
    /// The countries with a calendar (ISO 3166 alpha-2).
    public static var countries: [String] { national.keys.sorted() }

    /// The region codes of `country`, as the `holidays` package names them (mostly ISO 3166-2).
    public static func regions(of country: String) -> [String] {
        let prefix = country.uppercased() + "-"
        return regional.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// The years the table covers, for messages: `2020–2045`.
    public static var years: String { "\(firstYear)–\(lastYear)" }

    /// Why a calendar cannot be had.
    public enum Problem: Error, Equatable {
        case unknownCountry
        case unknownRegion(known: [String])
    }

    /// The public holidays on weekdays of `country` (and `region`) in the years the table covers.
    public static func days(country: String, region: String? = nil) throws(Problem) -> Set<Day> {
        guard let text = national[country.uppercased()] else { throw .unknownCountry }
        var days = Set(decode(text).map(\.day))
        if let region {
            guard let diff = regional["\(country.uppercased())-\(region)"] else { throw .unknownRegion(known: regions(of: country)) }
            for (day, sign) in decode(diff) {
                if sign == "-" { days.remove(day) } else { days.insert(day) }
            }
        }
        return days
    }

    /// `2020:0101,+0106;2021:-0501` → the days, each with its sign (`+`, `-` or none).
    static func decode(_ text: String) -> [(day: Day, sign: Character?)] {
        var out: [(Day, Character?)] = []
        for yearPart in text.split(separator: ";") {
            guard let colon = yearPart.firstIndex(of: ":"), let year = Int(yearPart[..<colon]) else { continue }
            for item in yearPart[yearPart.index(after: colon)...].split(separator: ",") {
                var digits = Substring(item)
                var sign: Character?
                if let first = digits.first, first == "+" || first == "-" { sign = first; digits = digits.dropFirst() }
                guard digits.count == 4, let mmdd = Int(digits),
                      let day = Day(year: year, month: mmdd / 100, day: mmdd % 100) else { continue }
                out.append((day, sign))
            }
        }
        return out
    }
}
