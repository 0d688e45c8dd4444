import DossierModel
import Foundation
import NIOCore

/// PostgreSQL's binary wire values as Dossier values, keeping what each type means.
///
/// postgres-nio always asks for binary results. Its own decoders turn `numeric` into Foundation's
/// `Decimal` (38 digits at most: a 40-digit value would change), `json` into `Decodable` types (key
/// order and the written form of numbers are lost) and timestamps into `Date` (a binary floating
/// point). A bundle must keep the source's values exactly, so the wire formats are read here, one
/// function a type, from PostgreSQL's `*send` functions (src/backend/utils/adt).
///
/// | PostgreSQL | value |
/// |---|---|
/// | smallint, integer, bigint, oid | number |
/// | numeric | number, exact as stored (`NaN`, `Infinity` as text) |
/// | real, double precision | number, the shortest text that reads back the same (`NaN`, `Infinity` as text) |
/// | money | number with two decimals |
/// | boolean | true / false |
/// | text, varchar, char(n), name, "char", citext, enums, xml | text |
/// | date | `2026-03-01` |
/// | timestamp | `2026-03-01T12:00:00` (no zone: it is not an instant) |
/// | timestamptz | `2026-03-01T11:00:00Z` (UTC) |
/// | time, timetz | `12:00:00`, `12:00:00+01:00` |
/// | interval | ISO 8601 duration (`P1Y2M3DT4H5M6.5S`) |
/// | uuid, inet, cidr, macaddr, bit, varbit | text in PostgreSQL's own notation |
/// | json, jsonb | nested values (object key order and numbers as written) |
/// | arrays | lists (nested for several dimensions; NULL elements as null) |
/// | bytea | binary (`{"base64": …}` in JSON) |
public enum PostgresValues {
    /// Why a value could not be read.
    public struct Unreadable: Error {
        public let reason: String
    }

    /// How a type whose OID is not built in is sent (from `pg_type`), so that enums, `citext` and
    /// arrays of them can be read.
    public enum ExtraType: Sendable, Equatable {
        /// Sent as its text (`enum_send`, `textsend`, `citextsend`, …).
        case text
        /// An array of the given element type.
        case array(element: UInt32)
        /// A domain: sent as its base type.
        case alias(UInt32)
        /// Anything else: its name, for the error.
        case unsupported(String)
    }

    /// The value of one cell; `extra` answers for OIDs that are not built in.
    public static func value(oid: UInt32, bytes: ByteBuffer?, extra: (UInt32) -> ExtraType?) throws(Unreadable) -> Value {
        guard var buffer = bytes else { return .null }
        return try value(oid: oid, &buffer, extra: extra)
    }

    static func value(oid: UInt32, _ b: inout ByteBuffer, extra: (UInt32) -> ExtraType?) throws(Unreadable) -> Value {
        switch oid {
        case 16: return .bool(try int(&b, as: UInt8.self) != 0)
        case 17: return .binary(Data(b.readableBytesView))
        case 18, 19, 25, 1042, 1043, 142, 705: return .string(try text(b))
        case 20: return .number(String(try int(&b, as: Int64.self)))
        case 21: return .number(String(try int(&b, as: Int16.self)))
        case 23: return .number(String(try int(&b, as: Int32.self)))
        case 26: return .number(String(try int(&b, as: UInt32.self)))
        case 114: return try json(b)
        case 3802:
            guard try int(&b, as: UInt8.self) == 1 else { throw Unreadable(reason: "an unknown jsonb version") }
            return try json(b)
        case 700: return float(Double(Float(bitPattern: try int(&b, as: UInt32.self))))
        case 701: return float(Double(bitPattern: try int(&b, as: UInt64.self)))
        case 790: return .number(scaled(Int64(try int(&b, as: Int64.self)), digits: 2))
        case 1700: return try numeric(&b)
        case 1082: return try date(&b)
        case 1083: return .string(time(microseconds: try int(&b, as: Int64.self)))
        case 1266:
            let t = time(microseconds: try int(&b, as: Int64.self))
            return .string(t + zone(secondsWest: Int(try int(&b, as: Int32.self))))
        case 1114: return try timestamp(&b, utc: false)
        case 1184: return try timestamp(&b, utc: true)
        case 1186: return try interval(&b)
        case 2950: return .string(try uuid(&b))
        case 869, 650: return .string(try inet(&b))
        case 829: return .string(try hex(&b, count: 6, separator: ":"))
        case 774: return .string(try hex(&b, count: 8, separator: ":"))
        case 1560, 1562: return .string(try bits(&b))
        default:
            if let element = arrayElements[oid] { return try array(&b, element: element, extra: extra) }
            switch extra(oid) {
            case .text: return .string(try text(b))
            case .array(let element): return try array(&b, element: element, extra: extra)
            case .alias(let base) where base != oid: return try value(oid: base, &b, extra: extra)
            case .alias: throw Unreadable(reason: "the type with OID \(oid) cannot be read")
            case .unsupported(let name): throw Unreadable(reason: "the type \(name) cannot be read; cast it in the query (for example column::text)")
            case nil: throw Unreadable(reason: "the type with OID \(oid) cannot be read; cast it in the query (for example column::text)")
            }
        }
    }

    /// The element type of each built-in array type.
    static let arrayElements: [UInt32: UInt32] = [
        1000: 16, 1001: 17, 1002: 18, 1003: 19, 1005: 21, 1007: 23, 1009: 25, 1014: 1042, 1015: 1043,
        1016: 20, 1021: 700, 1022: 701, 1028: 26, 199: 114, 3807: 3802, 791: 790, 1231: 1700, 1182: 1082,
        1183: 1083, 1270: 1266, 1115: 1114, 1185: 1184, 1187: 1186, 2951: 2950, 1041: 869, 651: 650,
        1040: 829, 775: 774, 1561: 1560, 1563: 1562, 143: 142,
    ]

    // MARK: - Scalars

    static func int<T: FixedWidthInteger>(_ b: inout ByteBuffer, as: T.Type) throws(Unreadable) -> T {
        guard let v = b.readInteger(endianness: .big, as: T.self) else { throw Unreadable(reason: "a value is shorter than its type") }
        return v
    }

    static func text(_ b: ByteBuffer) throws(Unreadable) -> String {
        guard let s = String(validating: b.readableBytesView, as: UTF8.self) else {
            throw Unreadable(reason: "a text value is not valid UTF-8 (the database's encoding must be UTF8, or the client's set to it)")
        }
        return s
    }

    static func json(_ b: ByteBuffer) throws(Unreadable) -> Value {
        do { return try JSON.parse(bytes: Array(b.readableBytesView)) } catch {
            throw Unreadable(reason: "a json value does not parse")
        }
    }

    static func float(_ d: Double) -> Value {
        if d.isNaN { return .string("NaN") }
        if d.isInfinite { return .string(d < 0 ? "-Infinity" : "Infinity") }
        return .number("\(d)")
    }

    /// `digits` decimal places of an integer count (money's cents): `-1234` → `-12.34`.
    static func scaled(_ v: Int64, digits: Int) -> String {
        let negative = v < 0
        var s = String(v.magnitude)
        if s.count <= digits { s = String(repeating: "0", count: digits - s.count + 1) + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
        return negative ? "-" + s : s
    }

    /// numeric: base-10000 digits, a weight (the power of the first digit), a sign and a display scale.
    static func numeric(_ b: inout ByteBuffer) throws(Unreadable) -> Value {
        let ndigits = Int(try int(&b, as: Int16.self))
        let weight = Int(try int(&b, as: Int16.self))
        let sign = try int(&b, as: UInt16.self)
        let dscale = Int(try int(&b, as: UInt16.self))
        switch sign {
        case 0x0000, 0x4000: break
        case 0xC000: return .string("NaN")
        case 0xD000: return .string("Infinity")
        case 0xF000: return .string("-Infinity")
        default: throw Unreadable(reason: "a numeric value has an unknown sign")
        }
        var digits: [Int] = []
        digits.reserveCapacity(ndigits)
        for _ in 0..<max(0, ndigits) { digits.append(Int(try int(&b, as: Int16.self))) }
        func digit(_ i: Int) -> Int { i >= 0 && i < digits.count ? digits[i] : 0 }
        var out = sign == 0x4000 ? "-" : ""
        // The integer part: groups 0...weight.
        if weight < 0 {
            out += "0"
        } else {
            out += String(digit(0))
            for i in stride(from: 1, through: weight, by: 1) { out += pad4(digit(i)) }
        }
        if dscale > 0 {
            var fraction = ""
            var i = weight + 1
            while fraction.count < dscale { fraction += pad4(digit(i)); i += 1 }
            out += "." + fraction.prefix(dscale)
        }
        if out == "-0" || (out.hasPrefix("-") && out.dropFirst().allSatisfy { $0 == "0" || $0 == "." }) { out.removeFirst() }
        return .number(out)
    }

    static func pad4(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Days since 1970-01-01 as year, month and day (proleptic Gregorian; H. Hinnant's algorithm).
    static func civil(days z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// PostgreSQL counts dates and timestamps from 2000-01-01.
    static let epochDays = 10_957

    static func dayText(_ days: Int) -> String {
        let (y, m, d) = civil(days: days + epochDays)
        let year = y > 0 ? pad(y, 4) : "-" + pad(-y, 4) // astronomical years, as ISO 8601's expanded form
        return "\(year)-\(pad(m, 2))-\(pad(d, 2))"
    }

    static func date(_ b: inout ByteBuffer) throws(Unreadable) -> Value {
        let days = try int(&b, as: Int32.self)
        if days == .max { return .string("infinity") }
        if days == .min { return .string("-infinity") }
        return .string(dayText(Int(days)))
    }

    /// `HH:MM:SS`, with up to six decimals when the seconds have a fraction.
    static func time(microseconds us: Int64) -> String {
        let total = Int(us)
        let seconds = total / 1_000_000, fraction = total % 1_000_000
        var s = "\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if fraction != 0 { s += "." + trimmed(pad(fraction, 6)) }
        return s
    }

    static func trimmed(_ digits: String) -> String {
        var d = Substring(digits)
        while d.last == "0" { d = d.dropLast() }
        return String(d)
    }

    static func zone(secondsWest: Int) -> String {
        let east = -secondsWest
        let sign = east < 0 ? "-" : "+"
        let a = abs(east)
        var s = "\(sign)\(pad(a / 3600, 2)):\(pad(a / 60 % 60, 2))"
        if a % 60 != 0 { s += ":\(pad(a % 60, 2))" }
        return s
    }

    static func timestamp(_ b: inout ByteBuffer, utc: Bool) throws(Unreadable) -> Value {
        let us = try int(&b, as: Int64.self)
        if us == .max { return .string("infinity") }
        if us == .min { return .string("-infinity") }
        let perDay: Int64 = 86_400_000_000
        var days = us / perDay, rest = us % perDay
        if rest < 0 { rest += perDay; days -= 1 }
        return .string(dayText(Int(days)) + "T" + time(microseconds: rest) + (utc ? "Z" : ""))
    }

    /// interval: microseconds, days and months, kept apart as PostgreSQL keeps them.
    static func interval(_ b: inout ByteBuffer) throws(Unreadable) -> Value {
        let us = try int(&b, as: Int64.self)
        let days = Int(try int(&b, as: Int32.self))
        let months = Int(try int(&b, as: Int32.self))
        var s = "P"
        if months / 12 != 0 { s += "\(months / 12)Y" }
        if months % 12 != 0 { s += "\(months % 12)M" }
        if days != 0 { s += "\(days)D" }
        if us != 0 {
            s += "T"
            let negative = us < 0
            let a = Int(us.magnitude)
            let hours = a / 3_600_000_000, minutes = a / 60_000_000 % 60, seconds = a / 1_000_000 % 60, fraction = a % 1_000_000
            let sign = negative ? "-" : ""
            if hours != 0 { s += "\(sign)\(hours)H" }
            if minutes != 0 { s += "\(sign)\(minutes)M" }
            if seconds != 0 || fraction != 0 {
                s += "\(sign)\(seconds)" + (fraction != 0 ? "." + trimmed(pad(fraction, 6)) : "") + "S"
            }
        }
        return .string(s == "P" ? "PT0S" : s)
    }

    static func uuid(_ b: inout ByteBuffer) throws(Unreadable) -> String {
        guard let bytes = b.readBytes(length: 16) else { throw Unreadable(reason: "a uuid value is shorter than 16 bytes") }
        let hex = bytes.map(hexByte).joined()
        let p = Array(hex)
        return String(p[0..<8]) + "-" + String(p[8..<12]) + "-" + String(p[12..<16]) + "-" + String(p[16..<20]) + "-" + String(p[20..<32])
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    static func hex(_ b: inout ByteBuffer, count: Int, separator: String) throws(Unreadable) -> String {
        guard let bytes = b.readBytes(length: count) else { throw Unreadable(reason: "a value is shorter than its type") }
        return bytes.map(hexByte).joined(separator: separator)
    }

    /// inet and cidr: family, mask bits, a cidr flag, the address length and the address.
    static func inet(_ b: inout ByteBuffer) throws(Unreadable) -> String {
        let family = try int(&b, as: UInt8.self)
        let bits = Int(try int(&b, as: UInt8.self))
        let isCIDR = try int(&b, as: UInt8.self) != 0
        let length = Int(try int(&b, as: UInt8.self))
        guard let address = b.readBytes(length: length) else { throw Unreadable(reason: "an inet value is shorter than its address") }
        let text: String
        let full: Int
        if family == 2, length == 4 {
            text = address.map { String($0) }.joined(separator: ".")
            full = 32
        } else if family == 3, length == 16 {
            text = ipv6(address)
            full = 128
        } else {
            throw Unreadable(reason: "an inet value has an unknown address family")
        }
        return isCIDR || bits != full ? "\(text)/\(bits)" : text
    }

    /// An IPv6 address as RFC 5952 writes it (the longest run of zero groups as `::`).
    static func ipv6(_ a: [UInt8]) -> String {
        let groups = (0..<8).map { Int(a[2 * $0]) << 8 | Int(a[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > bestLength, j - i > 1 { bestStart = i; bestLength = j - i }
                i = j
            } else { i += 1 }
        }
        func hexGroup(_ g: Int) -> String { String(g, radix: 16) }
        if bestStart < 0 { return groups.map(hexGroup).joined(separator: ":") }
        let head = groups[..<bestStart].map(hexGroup).joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].map(hexGroup).joined(separator: ":")
        return head + "::" + tail
    }

    static func bits(_ b: inout ByteBuffer) throws(Unreadable) -> String {
        let count = Int(try int(&b, as: Int32.self))
        guard count >= 0, let bytes = b.readBytes(length: (count + 7) / 8) else { throw Unreadable(reason: "a bit string is shorter than its length") }
        var s = ""
        s.reserveCapacity(count)
        for i in 0..<count { s.append(bytes[i / 8] & (0x80 >> UInt8(i % 8)) != 0 ? "1" : "0") }
        return s
    }

    /// An array: dimensions, a NULL flag, the element type, each dimension's length and lower
    /// bound, then the elements, each with its length (-1 for NULL). Several dimensions nest.
    static func array(_ b: inout ByteBuffer, element declared: UInt32, extra: (UInt32) -> ExtraType?) throws(Unreadable) -> Value {
        let dimensions = Int(try int(&b, as: Int32.self))
        _ = try int(&b, as: Int32.self) // has NULLs
        let element = try int(&b, as: UInt32.self)
        guard dimensions >= 0, dimensions <= 6 else { throw Unreadable(reason: "an array has \(dimensions) dimensions") }
        if dimensions == 0 { return .array([]) }
        var lengths: [Int] = []
        for _ in 0..<dimensions {
            lengths.append(Int(try int(&b, as: Int32.self)))
            _ = try int(&b, as: Int32.self) // lower bound
        }
        var elements: [Value] = []
        let count = lengths.reduce(1, *)
        guard count >= 0, count <= b.readableBytes / 4 else { throw Unreadable(reason: "an array is shorter than its dimensions") }
        elements.reserveCapacity(count)
        for _ in 0..<count {
            let length = Int(try int(&b, as: Int32.self))
            if length < 0 { elements.append(.null); continue }
            guard var slice = b.readSlice(length: length) else { throw Unreadable(reason: "an array element is shorter than its length") }
            elements.append(try value(oid: element == 0 ? declared : element, &slice, extra: extra))
        }
        // Nest from the last dimension outwards: [[1,2,3],[4,5,6]] for lengths [2, 3].
        var level = elements
        for length in lengths.dropFirst().reversed() {
            guard length > 0 else { break }
            level = stride(from: 0, to: level.count, by: length).map { .array(Array(level[$0..<min($0 + length, level.count)])) }
        }
        return .array(level)
    }
}
