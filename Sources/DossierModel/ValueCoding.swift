import Foundation

/// A compact, exact binary form of `Value`, for spilling found records to disk while a run
/// collects them (JSON would lose the difference between a binary and an object).
public enum ValueCoding {
    public static func encode(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .number(let n): out.append(3); appendBytes(Array(n.utf8), &out)
        case .string(let s): out.append(4); appendBytes(Array(s.utf8), &out)
        case .binary(let d): out.append(5); appendBytes(Array(d), &out)
        case .array(let items):
            out.append(6); appendLength(items.count, &out)
            for item in items { encode(item, into: &out) }
        case .object(let fields):
            out.append(7); appendLength(fields.count, &out)
            for (name, v) in fields { appendBytes(Array(name.utf8), &out); encode(v, into: &out) }
        }
    }

    static func appendLength(_ n: Int, _ out: inout [UInt8]) {
        var v = UInt64(n)
        repeat {
            var byte = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { byte |= 0x80 }
            out.append(byte)
        } while v != 0
    }

    static func appendBytes(_ bytes: [UInt8], _ out: inout [UInt8]) {
        appendLength(bytes.count, &out)
        out.append(contentsOf: bytes)
    }

    public struct DecodingError: Error {}

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Value {
        var index = 0
        return try decode(bytes, &index)
    }

    static func length(_ bytes: [UInt8], _ i: inout Int) throws(DecodingError) -> Int {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard i < bytes.count, shift < 64 else { throw DecodingError() }
            let b = bytes[i]; i += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return Int(v) }
            shift += 7
        }
    }

    static func text(_ bytes: [UInt8], _ i: inout Int) throws(DecodingError) -> String {
        let n = try length(bytes, &i)
        guard i + n <= bytes.count else { throw DecodingError() }
        defer { i += n }
        return String(decoding: bytes[i..<(i + n)], as: UTF8.self)
    }

    static func decode(_ bytes: [UInt8], _ i: inout Int) throws(DecodingError) -> Value {
        guard i < bytes.count else { throw DecodingError() }
        let tag = bytes[i]; i += 1
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .number(try text(bytes, &i))
        case 4: return .string(try text(bytes, &i))
        case 5:
            let n = try length(bytes, &i)
            guard i + n <= bytes.count else { throw DecodingError() }
            defer { i += n }
            return .binary(Data(bytes[i..<(i + n)]))
        case 6:
            let n = try length(bytes, &i)
            var items: [Value] = []
            for _ in 0..<n { items.append(try decode(bytes, &i)) }
            return .array(items)
        case 7:
            let n = try length(bytes, &i)
            var fields = Fields()
            for _ in 0..<n { let name = try text(bytes, &i); fields.append(name, try decode(bytes, &i)) }
            return .object(fields)
        default: throw DecodingError()
        }
    }
}
