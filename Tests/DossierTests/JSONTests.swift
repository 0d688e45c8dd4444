import DossierModel
import Foundation
import Testing

@Suite struct JSONTests {
    @Test func keepsKeyOrderAndNumberText() throws {
        let v = try JSON.parse(#"{"b": 1230.00, "a": [true, null, "x\u00e9"], "c": {"d": -0.5e3}}"#)
        #expect(v.jsonText() == #"{"b":1230.00,"a":[true,null,"xé"],"c":{"d":-0.5e3}}"#)
        #expect(v.jsonText(canonical: true) == #"{"a":[true,null,"xé"],"b":1230.00,"c":{"d":-0.5e3}}"#)
    }

    @Test func rejectsBrokenText() {
        #expect(throws: JSON.SyntaxError.self) { try JSON.parse(#"{"a": }"#) }
        #expect(throws: JSON.SyntaxError.self) { try JSON.parse(#"{"a": 1} x"#) }
        #expect(throws: JSON.SyntaxError.self) { try JSON.parse("01") }
    }

    @Test func hexIsLowerCaseTwoDigitsAByte() {
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string([0x00, 0x0f, 0x10, 0xab, 0xff]) == "000f10abff")
        // SHA-256("abc") (FIPS 180-2, appendix B.1), its bytes written out
        let digest: [UInt8] = [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                               0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad]
        #expect(Hex.string(digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func quotesEveryEscapeAndCopiesTheRest() throws {
        var out = ""
        JSON.appendQuoted("a\"b\\c\nd\re\tf\u{08}g\u{0C}h\u{01}\u{1F}i\u{2028}j\u{2029}kł😀\u{7F}", to: &out)
        #expect(out == #""a\"b\\c\nd\re\tf\bg\fh\u0001\u001fi\u2028j\u2029kł😀\#u{7F}""#)
        // An independent reader gets the same string back, for every code point below 0x100 and some above.
        let text = String(String.UnicodeScalarView((0...255).map { Unicode.Scalar(UInt8($0)) })) + "\u{2027}\u{2028}\u{2029}\u{202A}€𝄞"
        var quoted = ""
        JSON.appendQuoted(text, to: &quoted)
        let back = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed) as? String
        #expect(back == text)
        var empty = ""
        JSON.appendQuoted("", to: &empty)
        #expect(empty == #""""#)
    }

    /// The scan reads eight bytes at a time: every character that needs an escape, or looks like one
    /// (0xE2 that starts another character, bytes just above and below the bounds), at every
    /// position of runs of every length, read back by an independent reader.
    @Test func escapesAreFoundAtEveryPositionOfTheWordScan() throws {
        let specials: [String] = ["\"", "\\", "\n", "\u{01}", "\u{1F}", "\u{2028}", "\u{2029}", "\u{2026}", "\u{20AC}", " ", "!", "#", "[", "]", "\u{7F}", "ł"]
        for length in 0...20 {
            for position in 0...length {
                for special in specials {
                    let text = String(repeating: "a", count: position) + special + String(repeating: "b", count: length - position)
                    var quoted: [UInt8] = []
                    JSON.appendQuoted(text, to: &quoted)
                    let back = try JSONSerialization.jsonObject(with: Data(quoted), options: .fragmentsAllowed) as? String
                    #expect(back == text, "\(length) \(position) \(special.unicodeScalars.map { $0.value })")
                    let raw = String(decoding: quoted, as: UTF8.self)
                    let escaped = ["\"", "\\", "\n", "\u{01}", "\u{1F}", "\u{2028}", "\u{2029}"].contains(special)
                    #expect(raw.utf8.count == text.utf8.count + 2 + (escaped ? (special.unicodeScalars.first!.value < 0x20 && special != "\n" ? 5 : special.utf8.count == 3 ? 3 : 1) : 0),
                            "\(length) \(position) \(special.unicodeScalars.map { $0.value })")
                }
            }
        }
    }

    /// The writer gives `appendPrettyJSON`'s bytes for the same value, built call by call: random
    /// nesting of objects and arrays, empty ones included, at the top and at an indent.
    @Test func prettyWriterWritesWhatTheValueWouldPrint() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        func random(depth: Int) -> Value {
            switch rng.next() % (depth > 3 ? 4 : 7) {
            case 0: return .null
            case 1: return .bool(rng.next() % 2 == 0)
            case 2: return .number(String(Int(rng.next() % 2000) - 1000))
            case 3: return .string(["", "a", "ł\"\n", "DSR-2026-0001"][Int(rng.next() % 4)])
            case 4, 5:
                return .object(Fields((0..<Int(rng.next() % 4)).map { i in ("k\(i)", random(depth: depth + 1)) }))
            default:
                return .array((0..<Int(rng.next() % 4)).map { _ in random(depth: depth + 1) })
            }
        }
        func write(_ v: Value, _ w: inout PrettyJSONWriter, opaque: Bool) {
            switch v {
            case .object(let f) where !opaque:
                w.beginObject()
                for (name, value) in f { w.key(named: name); write(value, &w, opaque: false) }
                w.endObject()
            case .array(let items) where !opaque:
                w.beginArray()
                for item in items { write(item, &w, opaque: items.count % 2 == 0) }
                w.endArray()
            case .null: w.null()
            case .bool(let b): w.bool(b)
            case .number(let n): w.number(Int(n)!)
            case .string(let s): w.text(s)
            default: w.value(v)
            }
        }
        // Keys written as literals are copied as they are, unless they hold what JSON escapes.
        var literal = PrettyJSONWriter(indent: 2)
        literal.beginObject()
        literal.key("id"); literal.string("x")
        literal.key("q\"uote\\"); literal.beginArray(); literal.endArray()
        literal.key("ł"); literal.null()
        literal.key("\u{2028}"); literal.number(1)
        literal.endObject()
        var expected: [UInt8] = []
        Value.object(Fields([("id", .string("x")), ("q\"uote\\", .array([])), ("ł", .null), ("\u{2028}", .number("1"))]))
            .appendPrettyJSON(to: &expected, indent: 2)
        #expect(literal.bytes == expected)
        for _ in 0..<500 {
            let v = random(depth: 0)
            for indent in [0, 2] {
                var expected: [UInt8] = []
                v.appendPrettyJSON(to: &expected, indent: indent)
                var w = PrettyJSONWriter(indent: indent)
                write(v, &w, opaque: false)
                #expect(w.bytes == expected, "\(v.jsonText())")
            }
        }
    }

    @Test func prettyArrayWrittenElementByElementIsTheSameText() {
        let items: [Value] = [.object(Fields([("a", .number("1")), ("b", .array([.string("x"), .null]))])), .array([]), .string("s")]
        var streamed = Array("[\n".utf8)
        for (i, item) in items.enumerated() {
            streamed += Array("  ".utf8)
            item.appendPrettyJSON(to: &streamed, indent: 2)
            streamed += Array((i + 1 < items.count ? ",\n" : "\n]\n").utf8)
        }
        #expect(String(decoding: streamed, as: UTF8.self) == Value.array(items).prettyJSONText())
    }

    @Test func dayIsWrittenWithLeadingZeros() {
        #expect(Day(year: 2026, month: 1, day: 5)!.description == "2026-01-05")
        #expect(Day(year: 987, month: 12, day: 31)!.description == "0987-12-31")
        #expect(Day(year: 9999, month: 10, day: 10)!.description == "9999-10-10")
        #expect(Day(ordinal: 0).description == "1970-01-01")
    }

    @Test func dayIsReadOnlyFromTenBytes() {
        #expect(Day("2026-02-28") == Day(year: 2026, month: 2, day: 28))
        #expect(Day("0987-12-31") == Day(year: 987, month: 12, day: 31))
        for bad in ["2026-02-29", "2026-2-28", "2026-02-8", "+026-02-28", "2026/02/28", "2026-13-01", "2026-00-10", "20260228",
                    "2026-02-28 ", "２０２６-02-28", "2026-0a-28", ""] {
            #expect(Day(bad) == nil, "\(bad)")
        }
    }
}
