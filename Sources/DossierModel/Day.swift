import Foundation

extension Date {
    /// ISO 8601 in UTC, to the second (`2026-01-31T09:00:00Z`): how the bundle and the ledger show times.
    public var utcTimestamp: String {
        // From 1970 to 9999, written digit by digit, as ISO8601FormatStyle writes it (whole seconds,
        // the fraction dropped): the style was a sixth of `request list --json`'s time. Others by
        // the style.
        let t = timeIntervalSince1970
        guard t >= 0, t < 253_402_300_800 else {
            var style = Date.ISO8601FormatStyle()
            style.timeZone = TimeZone(identifier: "UTC")!
            return formatted(style)
        }
        let seconds = Int(t.rounded(.down))
        let day = Day(ordinal: seconds / 86_400), time = seconds % 86_400
        return String(unsafeUninitializedCapacity: 20) { buf in
            day.writeDigits(into: buf)
            buf[10] = UInt8(ascii: "T"); Day.twoDigits(time / 3600, into: buf, at: 11); buf[13] = UInt8(ascii: ":")
            Day.twoDigits(time / 60 % 60, into: buf, at: 14); buf[16] = UInt8(ascii: ":"); Day.twoDigits(time % 60, into: buf, at: 17)
            buf[19] = UInt8(ascii: "Z")
            return 20
        }
    }

    /// Reads `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ`, as the ledger writes its
    /// timestamps from 2001 on, to the same `Date` as Foundation's ISO 8601 parser (which counts
    /// from 2001, so the milliseconds are added there; 2,000,000 random times compared); nil for any
    /// other text, which the caller gives to that parser. Parsing a ledger row's times with it was a sixth of `request list --json`'s time.
    public init?(utcTimestamp text: String) {
        var text = text
        let parsed: TimeInterval? = text.withUTF8 { b in
            guard b.count == 20 || b.count == 24, b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"),
                  b[16] == UInt8(ascii: ":"), b[b.count - 1] == UInt8(ascii: "Z"), let day = Day.read(b) else { return nil }
            guard let h = Day.decimal(b, 11..<13), let mi = Day.decimal(b, 14..<16), let s = Day.decimal(b, 17..<19), h < 24, mi < 60, s < 60 else { return nil }
            var milliseconds = 0
            if b.count == 24 {
                guard b[19] == UInt8(ascii: "."), let ms = Day.decimal(b, 20..<23) else { return nil }
                milliseconds = ms
            }
            // Before 2001 Foundation's arithmetic differs in the last bit: left to it.
            let whole = day.ordinal * 86_400 + h * 3600 + mi * 60 + s - 978_307_200
            guard whole >= 0 else { return nil }
            return TimeInterval(whole) + Double(milliseconds) / 1000
        }
        guard let parsed else { return nil }
        self.init(timeIntervalSinceReferenceDate: parsed)
    }
}

/// A calendar date without a time or zone (`2026-01-31`), as the law counts periods.
///
/// ```swift
/// let d = Day("2026-01-31")!
/// d.adding(months: 1)   // 2026-02-28: February has no 31st
/// d.weekday             // 6 (Saturday is 6, Sunday 7)
/// ```
public struct Day: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Day.daysIn(month: month, year: year), (1...9999).contains(year) else { return nil }
        self.year = year; self.month = month; self.day = day
    }

    /// Parses `YYYY-MM-DD` (ten bytes, ASCII digits and two dashes; read byte by byte, as a ledger
    /// list parses three of them a request).
    public init?(_ text: String) {
        var text = text
        guard text.utf8.count == 10, let day = text.withUTF8({ Day.read($0) }) else { return nil }
        self = day
    }

    /// The day written `YYYY-MM-DD` in the first ten bytes of `b`, or nil.
    static func read(_ b: UnsafeBufferPointer<UInt8>) -> Day? {
        guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = decimal(b, 0..<4), let m = decimal(b, 5..<7), let d = decimal(b, 8..<10) else { return nil }
        return Day(year: y, month: m, day: d)
    }

    /// The number written in ASCII digits at `range` of `b`, or nil if any byte is not a digit.
    static func decimal(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var n = 0
        for i in range {
            guard b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(b[i] - UInt8(ascii: "0"))
        }
        return n
    }

    /// Writes `YYYY-MM-DD` into the first ten bytes of `buf` (a year from 0 to 9999).
    func writeDigits(into buf: UnsafeMutableBufferPointer<UInt8>) {
        Day.twoDigits(year / 100, into: buf, at: 0); Day.twoDigits(year % 100, into: buf, at: 2)
        buf[4] = UInt8(ascii: "-"); Day.twoDigits(month, into: buf, at: 5)
        buf[7] = UInt8(ascii: "-"); Day.twoDigits(day, into: buf, at: 8)
    }

    static func twoDigits(_ n: Int, into buf: UnsafeMutableBufferPointer<UInt8>, at i: Int) {
        buf[i] = UInt8(ascii: "0") + UInt8(n / 10); buf[i + 1] = UInt8(ascii: "0") + UInt8(n % 10)
    }

    public var description: String {
        // Written digit by digit: `String(format:)` went through CoreFoundation's formatter and
        // was a quarter of `request list --json` over 100,000 requests.
        guard (0...9999).contains(year) else { return "\(year)-\(Day.twoDigits(month))-\(Day.twoDigits(day))" }
        return String(unsafeUninitializedCapacity: 10) { buf in
            writeDigits(into: buf)
            return 10
        }
    }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// The first day a `Day` can be (0001-01-01): the open end of a range of days.
    public static let earliest = Day(year: 1, month: 1, day: 1)!

    public static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
    public var ordinal: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public init(ordinal z0: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (m <= 2 ? 1 : 0); month = m; day = d
    }

    /// ISO weekday: Monday 1 … Sunday 7.
    public var weekday: Int {
        let w = (ordinal + 3) % 7 // 1970-01-01 was a Thursday
        return (w < 0 ? w + 7 : w) + 1
    }

    public func adding(days n: Int) -> Day { Day(ordinal: ordinal + n) }

    /// The day `date` falls on in UTC.
    public init(utc date: Date) { self.init(ordinal: Int((date.timeIntervalSince1970 / 86_400).rounded(.down))) }

    /// Midnight UTC at the start of the day.
    public var start: Date { Date(timeIntervalSince1970: TimeInterval(ordinal) * 86_400) }

    /// The same day-of-month `n` months later (or earlier), or that month's last day when it has no such day.
    public func adding(months n: Int) -> Day {
        let total = year * 12 + (month - 1) + n
        let y = total / 12, m = total % 12 + 1
        return Day(year: y, month: m, day: min(day, Day.daysIn(month: m, year: y)))!
    }

    public static func < (a: Day, b: Day) -> Bool { a.ordinal < b.ordinal }
}

/// An ISO 8601 period of whole years, months, weeks and days (`P3M`, `P1Y6M`, `P2W`).
public struct Period: Sendable, Hashable, CustomStringConvertible {
    public var years = 0, months = 0, weeks = 0, days = 0

    public init?(_ text: String) {
        guard text.hasPrefix("P"), text.count > 1 else { return nil }
        var number = ""
        for c in text.dropFirst() {
            if c.isASCII && c.isNumber { number.append(c); continue }
            guard let n = Int(number) else { return nil }
            switch c {
            case "Y": years = n
            case "M": months = n
            case "W": weeks = n
            case "D": days = n
            default: return nil
            }
            number = ""
        }
        guard number.isEmpty else { return nil }
    }

    public var description: String {
        var s = "P"
        if years > 0 { s += "\(years)Y" }
        if months > 0 { s += "\(months)M" }
        if weeks > 0 { s += "\(weeks)W" }
        if days > 0 || s == "P" { s += "\(days)D" }
        return s
    }

    /// Parses `7d`, `2w`, `3m`, `1y` (a number and a unit) as well as ISO 8601 (`P7D`).
    public init?(short text: String) {
        if let iso = Period(text) { self = iso; return }
        guard let unit = text.last, let n = Int(text.dropLast()), n > 0 else { return nil }
        switch unit {
        case "d": self.init("P\(n)D")
        case "w": self.init("P\(n)W")
        case "m": self.init("P\(n)M")
        case "y": self.init("P\(n)Y")
        default: return nil
        }
    }

    /// The day this period after `day`.
    public func after(_ day: Day) -> Day {
        day.adding(months: years * 12 + months).adding(days: weeks * 7 + days)
    }

    /// The day this period before `day`.
    public func before(_ day: Day) -> Day {
        day.adding(months: -(years * 12 + months)).adding(days: -(weeks * 7 + days))
    }
}
