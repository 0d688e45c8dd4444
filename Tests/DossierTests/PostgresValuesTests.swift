@testable import DossierCollectors
@testable import DossierPostgres
import DossierModel
import NIOCore
import XCTest

/// The binary wire values of PostgreSQL as Dossier values, byte by byte as the server's `*send`
/// functions write them (the integration tests check the same against a real server).
final class PostgresValuesTests: XCTestCase {
    func value(_ oid: UInt32, _ bytes: [UInt8], extra: [UInt32: PostgresValues.ExtraType] = [:]) throws -> Value {
        try PostgresValues.value(oid: oid, bytes: ByteBuffer(bytes: bytes)) { extra[$0] }
    }

    func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }

    /// numeric's wire form: ndigits, weight, sign, dscale, then base-10000 digits.
    func numeric(_ digits: [Int16], weight: Int16, negative: Bool = false, dscale: UInt16) -> [UInt8] {
        be(Int16(digits.count)) + be(weight) + be(UInt16(negative ? 0x4000 : 0)) + be(dscale) + digits.flatMap { be($0) }
    }

    func testNumericKeepsEveryDigitAndTheScale() throws {
        XCTAssertEqual(try value(1700, numeric([12, 5000], weight: 0, negative: true, dscale: 2)), .number("-12.50"))
        XCTAssertEqual(try value(1700, numeric([], weight: 0, dscale: 2)), .number("0.00"))
        XCTAssertEqual(try value(1700, numeric([], weight: 0, dscale: 0)), .number("0"))
        XCTAssertEqual(try value(1700, numeric([1, 0], weight: 1, dscale: 0)), .number("10000"))
        XCTAssertEqual(try value(1700, numeric([5], weight: -1, dscale: 4)), .number("0.0005"))
        XCTAssertEqual(try value(1700, numeric([12], weight: -2, dscale: 8)), .number("0.00000012"))
        // 1234567890123456789012345678901234567890: 10 groups of 4 digits
        let groups: [Int16] = [1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456, 7890]
        XCTAssertEqual(try value(1700, numeric(groups, weight: 9, dscale: 0)), .number("1234567890123456789012345678901234567890"))
        XCTAssertEqual(try value(1700, be(Int16(0)) + be(Int16(0)) + be(UInt16(0xC000)) + be(UInt16(0))), .string("NaN"))
        XCTAssertEqual(try value(1700, be(Int16(0)) + be(Int16(0)) + be(UInt16(0xF000)) + be(UInt16(0))), .string("-Infinity"))
    }

    func testIntegersFloatsAndBooleans() throws {
        XCTAssertEqual(try value(20, be(Int64.min)), .number("-9223372036854775808"))
        XCTAssertEqual(try value(21, be(Int16(-7))), .number("-7"))
        XCTAssertEqual(try value(23, be(Int32(123456))), .number("123456"))
        XCTAssertEqual(try value(701, be((0.1 as Double).bitPattern)), .number("0.1"))
        XCTAssertEqual(try value(700, be((1.5 as Float).bitPattern)), .number("1.5"))
        XCTAssertEqual(try value(701, be(Double.infinity.bitPattern)), .string("Infinity"))
        XCTAssertEqual(try value(701, be(Double.nan.bitPattern)), .string("NaN"))
        XCTAssertEqual(try value(16, [1]), .bool(true))
        XCTAssertEqual(try value(790, be(Int64(-1234))), .number("-12.34"))
        XCTAssertEqual(try value(790, be(Int64(5))), .number("0.05"))
    }

    func testTimesAreISO8601() throws {
        // 2026-03-01 11:00:00 UTC in microseconds since 2000-01-01
        let days2026 = 9_556 // 2026-03-01 - 2000-01-01
        let us = Int64(days2026) * 86_400_000_000 + 11 * 3_600_000_000
        XCTAssertEqual(try value(1184, be(us)), .string("2026-03-01T11:00:00Z"))
        XCTAssertEqual(try value(1114, be(us + 123_456)), .string("2026-03-01T11:00:00.123456"))
        XCTAssertEqual(try value(1114, be(Int64(-1))), .string("1999-12-31T23:59:59.999999"))
        XCTAssertEqual(try value(1082, be(Int32(days2026))), .string("2026-03-01"))
        XCTAssertEqual(try value(1082, be(Int32(-730_119))), .string("0001-01-01"))
        XCTAssertEqual(try value(1082, be(Int32.max)), .string("infinity"))
        XCTAssertEqual(try value(1114, be(Int64.min)), .string("-infinity"))
        XCTAssertEqual(try value(1083, be(Int64(13 * 3_600_000_000 + 45 * 60_000_000 + 30_500_000))), .string("13:45:30.5"))
        XCTAssertEqual(try value(1266, be(Int64(12 * 3_600_000_000)) + be(Int32(-3600))), .string("12:00:00+01:00"))
        XCTAssertEqual(try value(1186, be(Int64(4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000)) + be(Int32(3)) + be(Int32(14))),
                       .string("P1Y2M3DT4H5M6.5S"))
        XCTAssertEqual(try value(1186, be(Int64(0)) + be(Int32(0)) + be(Int32(0))), .string("PT0S"))
    }

    func testUUIDNetworkBitsAndBytes() throws {
        XCTAssertEqual(try value(2950, [0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11]),
                       .string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
        XCTAssertEqual(try value(869, [2, 24, 0, 4, 192, 168, 0, 1]), .string("192.168.0.1/24"))
        XCTAssertEqual(try value(869, [2, 32, 0, 4, 10, 0, 0, 1]), .string("10.0.0.1"))
        XCTAssertEqual(try value(650, [3, 32, 1, 16, 0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 12)), .string("2001:db8::/32"))
        XCTAssertEqual(try value(869, [3, 128, 0, 16] + Array(repeating: 0, count: 15) + [1]), .string("::1"))
        XCTAssertEqual(try value(1562, be(Int32(5)) + [0b1010_1000]), .string("10101"))
        XCTAssertEqual(try value(17, [0, 255, 16]), .binary(Data([0, 255, 16])))
    }

    func testJSONKeepsOrderAndNumbers() throws {
        let text = Array(#"{"b": 1, "a": [1, 2.50]}"#.utf8)
        let expected = Value.object(Fields([("b", .number("1")), ("a", .array([.number("1"), .number("2.50")]))]))
        XCTAssertEqual(try value(114, text), expected)
        XCTAssertEqual(try value(3802, [1] + text), expected)
        XCTAssertThrowsError(try value(3802, [2] + text))
    }

    func testArraysNestAndKeepNulls() throws {
        func array(_ element: UInt32, dims: [Int32], _ items: [[UInt8]?]) -> [UInt8] {
            var b = be(Int32(dims.count)) + be(Int32(items.contains { $0 == nil } ? 1 : 0)) + be(element)
            for d in dims { b += be(d) + be(Int32(1)) }
            for item in items { b += item.map { be(Int32($0.count)) + $0 } ?? be(Int32(-1)) }
            return b
        }
        XCTAssertEqual(try value(1007, array(23, dims: [3], [be(Int32(1)), nil, be(Int32(3))])),
                       .array([.number("1"), .null, .number("3")]))
        XCTAssertEqual(try value(1007, array(23, dims: [2, 2], [be(Int32(1)), be(Int32(2)), be(Int32(3)), be(Int32(4))])),
                       .array([.array([.number("1"), .number("2")]), .array([.number("3"), .number("4")])]))
        XCTAssertEqual(try value(1007, be(Int32(0)) + be(Int32(0)) + be(UInt32(23))), .array([]))
        // an enum (OID of its own) and an array of it, as pg_type describes them
        let extra: [UInt32: PostgresValues.ExtraType] = [16_400: .text, 16_399: .array(element: 16_400), 16_500: .alias(25)]
        XCTAssertEqual(try value(16_399, array(16_400, dims: [1], [Array("happy".utf8)]), extra: extra), .array([.string("happy")]))
        XCTAssertEqual(try value(16_500, Array("text of a domain".utf8), extra: extra), .string("text of a domain"))
        XCTAssertThrowsError(try value(600, [0, 1, 2])) { error in
            XCTAssert((error as? PostgresValues.Unreadable)?.reason.contains("::text") == true)
        }
    }

    func testShortOrInvalidValuesAreErrorsNotCrashes() {
        XCTAssertThrowsError(try value(23, [0, 1]))
        XCTAssertThrowsError(try value(2950, [1, 2, 3]))
        XCTAssertThrowsError(try value(25, [0xff, 0xfe]))
        XCTAssertThrowsError(try value(1007, be(Int32(1)) + be(Int32(0)) + be(UInt32(23)) + be(Int32(1_000_000)) + be(Int32(1))))
        XCTAssertThrowsError(try value(1700, be(Int16(1)) + be(Int16(0)) + be(UInt16(0x1234)) + be(UInt16(0)) + be(Int16(1))))
    }

    func testValueBecomesAPositionalParameter() {
        let r = PostgresSQL.positional("SELECT * FROM c WHERE lower(email) = :value AND note <> ':value' AND x::text = :value::text")
        XCTAssertEqual(r.sql, "SELECT * FROM c WHERE lower(email) = $1 AND note <> ':value' AND x::text = $1::text")
        XCTAssertEqual(r.values, 2)
        XCTAssertEqual(PostgresSQL.positional("SELECT $$ :value $$, $tag$ :value $tag$ FROM t WHERE a = :value").sql,
                       "SELECT $$ :value $$, $tag$ :value $tag$ FROM t WHERE a = $1")
        XCTAssertEqual(PostgresSQL.positional("SELECT \"a:value\" /* :value /* nested */ :value */ -- :value\nFROM t WHERE b = :value").sql,
                       "SELECT \"a:value\" /* :value /* nested */ :value */ -- :value\nFROM t WHERE b = $1")
        XCTAssertEqual(PostgresSQL.positional("SELECT E'it\\'s :value' WHERE c = :value").sql, "SELECT E'it\\'s :value' WHERE c = $1")
        XCTAssertEqual(PostgresSQL.positional("SELECT a[1:n] FROM t WHERE a = :value").named, [])
        XCTAssertEqual(PostgresSQL.positional("SELECT * FROM t WHERE a = $1").positional, ["$1"])
        XCTAssertEqual(PostgresSQL.positional("SELECT * FROM t WHERE a = :email").named, [":email"])
        XCTAssertEqual(PostgresSQL.positional("SELECT * FROM t WHERE a = ':value'").values, 0)
    }

    func testEndpointFromAURL() throws {
        let e = try PostgresEndpoint(url: "postgres://dossier_reader:p%40ss%3Aw%2Frd%25%C3%A9@127.0.0.1:5433/chinook?sslmode=disable",
                                     variable: "X", subject: "source 's'")
        XCTAssertEqual(e.user, "dossier_reader")
        XCTAssertEqual(e.password, "p@ss:w/rd%é")
        XCTAssertEqual(e.host, "127.0.0.1")
        XCTAssertEqual(e.port, 5433)
        XCTAssertEqual(e.database, "chinook")
        XCTAssertEqual(e.sslMode, .disable)
        let socket = try PostgresEndpoint(url: "postgresql://u@/db?host=/run/postgresql", variable: "X", subject: "s")
        XCTAssertEqual(socket.socketFolder, "/run/postgresql")
        XCTAssertEqual(socket.sslMode, .prefer)
        for bad in ["mysql://u:p@h/db", "postgres://u:hunter2@h/", "postgres://h/db", "postgres://u:hunter2@h/db?sslmode=maybe",
                    "postgres://u:hunter2@h/db?options=-c%20x"] {
            XCTAssertThrowsError(try PostgresEndpoint(url: bad, variable: "X", subject: "s")) { error in
                XCTAssertFalse("\(error)".contains("hunter2"), "\(error)")
            }
        }
    }
}
