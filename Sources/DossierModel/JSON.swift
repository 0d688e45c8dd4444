import Foundation

extension Value {
    /// The value as JSON text. `canonical` sorts object keys (the form used to compare records
    /// and to fingerprint them); otherwise keys keep the source's order. Never pretty-printed.
    public func jsonText(canonical: Bool = false) -> String {
        var out: [UInt8] = []
        appendJSON(to: &out, canonical: canonical)
        return String(decoding: out, as: UTF8.self)
    }

    /// The value as JSON indented by two spaces a level, keys in their order; ends with a newline.
    public func prettyJSONText() -> String {
        var out: [UInt8] = []
        appendPrettyJSON(to: &out, indent: 0)
        out.append(0x0A)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the value as `prettyJSONText()` writes it, as UTF-8 bytes, `indent` spaces in,
    /// without the final newline: a long array can be written element by element, to the same
    /// bytes. Text is built as bytes: appending to a `String` piece by piece cost twice the time of
    /// the rest of `request list --json`.
    public func appendPrettyJSON(to out: inout [UInt8], indent: Int) {
        switch self {
        case .array(let items) where !items.isEmpty:
            out += JSON.openArray
            for (i, item) in items.enumerated() {
                JSON.appendSpaces(indent + 2, to: &out)
                item.appendPrettyJSON(to: &out, indent: indent + 2)
                if i + 1 < items.count { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            JSON.appendSpaces(indent, to: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let fields) where !fields.isEmpty:
            out += JSON.openObject
            for (i, entry) in fields.entries.enumerated() {
                JSON.appendSpaces(indent + 2, to: &out)
                JSON.appendQuoted(entry.name, to: &out)
                out += JSON.colonSpace
                entry.value.appendPrettyJSON(to: &out, indent: indent + 2)
                if i + 1 < fields.count { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            JSON.appendSpaces(indent, to: &out)
            out.append(UInt8(ascii: "}"))
        default:
            appendJSON(to: &out, canonical: false)
        }
    }

    /// Appends the value's JSON text (as `jsonText`) as UTF-8 bytes.
    public func appendJSON(to out: inout [UInt8], canonical: Bool = false) {
        switch self {
        case .null: out += JSON.null
        case .bool(let b): out += b ? JSON.true : JSON.false
        case .number(let n): out += n.utf8
        case .string(let s): JSON.appendQuoted(s, to: &out)
        case .binary(let data):
            out += JSON.base64Open
            JSON.appendQuoted(data.base64EncodedString(), to: &out)
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.appendJSON(to: &out, canonical: canonical)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            let entries = canonical ? fields.entries.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } : fields.entries
            for (i, entry) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.appendQuoted(entry.name, to: &out)
                out.append(UInt8(ascii: ":"))
                entry.value.appendJSON(to: &out, canonical: canonical)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

/// JSON text reading and writing that keeps what Foundation's `JSONSerialization` loses:
/// the order of an object's keys and the exact text of numbers (`1230.00`).
///
/// Written here because no package on hand parses JSON without turning numbers into `Double`
/// and objects into unordered dictionaries; both would break "values keep their source types".
public enum JSON {
    /// Appends `s` as a JSON string literal (RFC 8259 escapes; non-ASCII kept as UTF-8; U+2028 and
    /// U+2029 escaped, as JavaScript needs).
    public static func appendQuoted(_ s: String, to out: inout String) {
        var bytes: [UInt8] = []
        appendQuoted(s, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// The same as UTF-8 bytes. Runs without an escape are copied whole, found eight bytes at a
    /// time (the byte-by-byte scan was a twelfth of `request list --json`).
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = s
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            let n = bytes.count
            var start = 0, i = 0
            while i < n {
                while i + 8 <= n, !mayNeedEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { i += 8 }
                guard i < n else { break }
                let b = base[i]
                var width = 1
                let escape: [UInt8]
                switch b {
                case 0x22: escape = [0x5C, 0x22]
                case 0x5C: escape = [0x5C, 0x5C]
                case 0x0A: escape = [0x5C, UInt8(ascii: "n")]
                case 0x0D: escape = [0x5C, UInt8(ascii: "r")]
                case 0x09: escape = [0x5C, UInt8(ascii: "t")]
                case 0x08: escape = [0x5C, UInt8(ascii: "b")]
                case 0x0C: escape = [0x5C, UInt8(ascii: "f")]
                case 0..<0x20: escape = Array("\\u00".utf8) + [hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]]
                case 0xE2 where i + 2 < n && base[i + 1] == 0x80 && (base[i + 2] == 0xA8 || base[i + 2] == 0xA9):
                    escape = Array((base[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8); width = 3
                default: i += 1; continue
                }
                if i > start { out.append(contentsOf: UnsafeBufferPointer(start: base + start, count: i - start)) }
                out += escape
                i += width
                start = i
            }
            if n > start { out.append(contentsOf: UnsafeBufferPointer(start: base + start, count: n - start)) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// True when one of the eight bytes of `w` may need an escape: a control character, `"`, `\`,
    /// or 0xE2 (the first byte of U+2028 and U+2029). Exact for "none does", which is all the scan
    /// needs (the usual SWAR tests for a zero byte and a byte below a bound).
    @inline(__always)
    static func mayNeedEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let below20 = (w &- ones &* 0x20) & ~w & highs
        return (below20 | hasZero(w ^ (ones &* 0x22)) | hasZero(w ^ (ones &* 0x5C)) | hasZero(w ^ (ones &* 0xE2))) != 0
    }

    static let hexDigits = Array("0123456789abcdef".utf8)
    static let openArray = Array("[\n".utf8)
    static let openObject = Array("{\n".utf8)
    static let colonSpace = Array(": ".utf8)
    static let null = Array("null".utf8)
    static let `true` = Array("true".utf8)
    static let `false` = Array("false".utf8)
    static let base64Open = Array("{\"base64\":".utf8)

    /// Spaces to indent with, from a literal (no array to reach through a lazy global and retain on
    /// every line).
    static let spaces: StaticString = "                                                                "

    static func appendSpaces(_ n: Int, to out: inout [UInt8]) {
        if n <= spaces.utf8CodeUnitCount {
            out.append(contentsOf: UnsafeBufferPointer(start: spaces.utf8Start, count: n))
        } else {
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: n))
        }
    }

    /// Why a text is not JSON, with the 1-based column of the first offending byte.
    public struct SyntaxError: Error, Sendable, Equatable {
        public let message: String
        public let column: Int
    }

    /// Parses one JSON value from UTF-8 bytes (one line of a JSON Lines file).
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(SyntaxError) -> Value where Bytes.Element == UInt8 {
        try parse(bytes: Array(bytes))
    }

    /// The same for the common case, without going through a generic collection.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(SyntaxError) -> Value { try parse(bytes: Array(bytes)) }

    public static func parse(bytes: [UInt8]) throws(SyntaxError) -> Value {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.parseValue(depth: 0)
        parser.skipSpace()
        if parser.index < parser.bytes.count { throw parser.error("unexpected text after the value") }
        return value
    }

    public static func parse(_ text: String) throws(SyntaxError) -> Value { try parse(bytes: Array(text.utf8)) }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        func error(_ message: String) -> SyntaxError { SyntaxError(message: message, column: index + 1) }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: String) throws(SyntaxError) {
            for b in literal.utf8 {
                guard index < bytes.count, bytes[index] == b else { throw error("expected \(literal)") }
                index += 1
            }
        }

        mutating func parseValue(depth: Int) throws(SyntaxError) -> Value {
            guard depth < 512 else { throw error("nesting too deep") }
            guard index < bytes.count else { throw error("unexpected end of text") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var fields = Fields()
                var names: Set<String>?
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
                while true {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let keyColumn = index + 1
                    let key = try parseString()
                    // A key given twice: whichever value a reader kept, the other would be lost unseen.
                    let repeated: Bool
                    if fields.count < 16 {
                        repeated = fields.entries.contains { $0.name == key }
                    } else {
                        if names == nil { names = Set(fields.entries.map(\.name)) }
                        repeated = !names!.insert(key).inserted
                    }
                    if repeated { throw SyntaxError(message: "an object holds the same key twice", column: keyColumn) }
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    let value = try parseValue(depth: depth + 1)
                    fields.append(key, value)
                    skipSpace()
                    guard index < bytes.count else { throw error("unexpected end of text") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
                    throw error("expected , or }")
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [Value] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try parseValue(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.count else { throw error("unexpected end of text") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                    throw error("expected , or ]")
                }
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return .number(try parseNumber())
            }
        }

        mutating func parseNumber() throws(SyntaxError) -> String {
            let start = index
            func digits(_ p: inout Parser) -> Int {
                let s = p.index
                while p.index < p.bytes.count, (0x30...0x39).contains(p.bytes[p.index]) { p.index += 1 }
                return p.index - s
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw error("expected a value") }
            if bytes[index] == UInt8(ascii: "0") { index += 1 } else { _ = digits(&self) }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw error("expected digits after the decimal point") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw error("expected digits in the exponent") }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func parseString() throws(SyntaxError) -> String {
            index += 1 // opening quote
            // The common case: no escape before the closing quote, and ASCII text (valid UTF-8 as it is).
            var end = index
            var ascii = true
            while end < bytes.count {
                let b = bytes[end]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                if b >= 0x80 { ascii = false }
                end += 1
            }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                let text = bytes[index..<end]
                let s: String
                if ascii {
                    s = String(decoding: text, as: UTF8.self)
                } else {
                    guard let valid = String(validating: text, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                    s = valid
                }
                index = end + 1
                return s
            }
            var raw: [UInt8] = []
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; break }
                if b < 0x20 { throw error("control character in a string") }
                if b != UInt8(ascii: "\\") { raw.append(b); index += 1; continue }
                index += 1
                guard index < bytes.count else { throw error("unterminated string") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): raw.append(0x22)
                case UInt8(ascii: "\\"): raw.append(0x5C)
                case UInt8(ascii: "/"): raw.append(0x2F)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0C)
                case UInt8(ascii: "n"): raw.append(0x0A)
                case UInt8(ascii: "r"): raw.append(0x0D)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    raw.append(contentsOf: Array(String(scalar).utf8))
                default: throw error("invalid escape")
                }
            }
            guard let s = String(validating: raw, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
            return s
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("invalid \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let d: UInt32
                switch b {
                case 0x30...0x39: d = UInt32(b - 0x30)
                case 0x41...0x46: d = UInt32(b - 0x41 + 10)
                case 0x61...0x66: d = UInt32(b - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                v = v * 16 + d
                index += 1
            }
            return v
        }
    }
}
