import DossierModel
import Foundation

/// The values of a few dotted paths of one JSON Lines record, read without building the object
/// (`dossier index` reads one or two fields of every line; building every line's `Fields` with all
/// its strings was most of the index build's time).
///
/// Written by hand for that reason. It is a validating reader that accepts a strict subset of what
/// `JSON.parse` accepts and gives, for every path, a value whose `scalarText` and `scalarTexts`
/// equal those of `JSON.parse(line)`'s object at that path; for anything else it says `false` and
/// the caller takes the general path (`JSON.parse`, which also words the error of a line that is not
/// JSON). So it gives up on: a backslash in a string (an escape), a control byte or invalid UTF-8 in
/// a string, anything that is not valid JSON, a top-level value that is not an object, nesting
/// deeper than 256.
///
/// What it keeps of `JSON.parse` and `Fields`:
/// - a key given twice in one object, at any depth, on a path or not: the general path, where
///   `JSON.parse` refuses it (so a line the prefilter skips, or an index build reads two fields of,
///   is refused as a scan refuses it); an object of more than `maxKeys` keys also takes it;
/// - keys are compared as Swift strings (canonical equivalence): a key or path component beyond
///   ASCII is compared through `String ==`, never by bytes;
/// - a value that is an object (or null) is kept as `.null`: both have no `scalarText` and no
///   `scalarTexts`; a list keeps its scalar items, its objects and lists as `.null` (dropped by
///   `scalarTexts`, as objects are).
struct JSONProjection {
    /// One component of a path: a node of the paths' trie.
    private struct Node {
        var key: [UInt8]
        var name: String
        /// The path that ends here, if any.
        var terminal: Int?
        var children: [Int] = []
        /// Every path that goes through this node (its own included).
        var below: [Int] = []
    }

    private var nodes: [Node] = [Node(key: [], name: "")]
    /// A path component beyond ASCII: every key is compared as a string.
    private var compareAsStrings = false
    let count: Int

    init(_ paths: [FieldPath]) {
        count = paths.count
        for (p, path) in paths.enumerated() {
            var node = 0
            for component in path.components {
                if component.utf8.contains(where: { $0 >= 0x80 }) { compareAsStrings = true }
                if let existing = nodes[node].children.first(where: { nodes[$0].name == component }) {
                    node = existing
                } else {
                    nodes.append(Node(key: Array(component.utf8), name: component))
                    nodes[node].children.append(nodes.count - 1)
                    node = nodes.count - 1
                }
                nodes[node].below.append(p)
            }
            nodes[node].terminal = p
        }
    }

    /// Fills `values` (one per path, nil when absent) from one line; false when the line must take
    /// the general path (then `values` holds nothing of use).
    func project(_ line: ArraySlice<UInt8>, into values: inout [Value?]) -> Bool {
        for k in values.indices { values[k] = nil }
        return line.withUnsafeBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            var reader = Reader(p: base, end: buffer.count, projection: self)
            reader.skipSpace()
            guard reader.i < reader.end, base[reader.i] == 0x7B else { return false }
            guard reader.object(node: 0, depth: 0, values: &values) else { return false }
            reader.skipSpace()
            return reader.i == reader.end
        }
    }

    /// The child of `node` named by the key `p[start..<end]`, or nil.
    @inline(__always)
    private func child(of node: Int, key p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, ascii: Bool) -> Int? {
        let children = nodes[node].children
        if children.isEmpty { return nil }
        if !ascii || compareAsStrings {
            let name = String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
            return children.first { nodes[$0].name == name }
        }
        let length = end - start
        for c in children {
            let key = nodes[c].key
            guard key.count == length else { continue }
            let same = key.withUnsafeBufferPointer { k in
                for j in 0..<length where k[j] != p[start + j] { return false }
                return true
            }
            if same { return c }
        }
        return nil
    }

    private struct Reader {
        let p: UnsafePointer<UInt8>
        let end: Int
        let projection: JSONProjection
        var i = 0
        /// The keys of the objects being read, the innermost object's last: each new key is
        /// compared with its object's earlier ones.
        var keys: [(start: Int, end: Int, ascii: Bool)] = []

        init(p: UnsafePointer<UInt8>, end: Int, projection: JSONProjection) {
            self.p = p
            self.end = end
            self.projection = projection
        }

        static let maxDepth = 256
        /// Keys compared one by one up to this many in an object; a larger object takes the general
        /// path (which keeps a set).
        static let maxKeys = 64

        /// Records the key `p[start..<end]` of the object whose keys begin at `keys[first]`; false
        /// when the object already has it (as bytes, or as Swift strings when either is beyond
        /// ASCII: `JSON.parse` compares keys by canonical equivalence, so `K` and the Kelvin sign
        /// are one key) or holds `maxKeys` keys.
        @inline(__always)
        mutating func newKey(_ start: Int, _ end: Int, ascii: Bool, first: Int) -> Bool {
            guard keys.count - first < Self.maxKeys else { return false }
            let length = end - start
            for k in first..<keys.count {
                let other = keys[k]
                if ascii && other.ascii {
                    if other.end - other.start == length, memcmp(p + other.start, p + start, length) == 0 { return false }
                } else if String(decoding: UnsafeBufferPointer(start: p + other.start, count: other.end - other.start), as: UTF8.self)
                            == String(decoding: UnsafeBufferPointer(start: p + start, count: length), as: UTF8.self) {
                    return false
                }
            }
            keys.append((start, end, ascii))
            return true
        }

        @inline(__always) mutating func skipSpace() {
            while i < end {
                switch p[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        /// At `{`: the object's members; paths below `node` (0: the record) are filled in.
        mutating func object(node: Int, depth: Int, values: inout [Value?]) -> Bool {
            guard depth < Self.maxDepth else { return false }
            i += 1
            skipSpace()
            if i < end, p[i] == 0x7D { i += 1; return true }
            let first = keys.count
            defer { keys.removeLast(keys.count - first) }
            while true {
                skipSpace()
                guard i < end, p[i] == 0x22, let (ks, ke, ascii) = string() else { return false }
                // A key given twice: JSON.parse refuses the line and says why.
                guard newKey(ks, ke, ascii: ascii, first: first) else { return false }
                skipSpace()
                guard i < end, p[i] == 0x3A else { return false }
                i += 1
                skipSpace()
                guard i < end else { return false }
                if let c = projection.child(of: node, key: p, ks, ke, ascii: ascii) {
                    let terminal = projection.nodes[c].terminal
                    if p[i] == 0x7B && !projection.nodes[c].children.isEmpty {
                        if let t = terminal { values[t] = .null }
                        guard object(node: c, depth: depth + 1, values: &values) else { return false }
                    } else if let t = terminal {
                        guard let v = capture(depth: depth + 1) else { return false }
                        values[t] = v
                    } else {
                        guard skipValue(depth: depth + 1) else { return false }
                    }
                } else {
                    guard skipValue(depth: depth + 1) else { return false }
                }
                skipSpace()
                guard i < end else { return false }
                if p[i] == 0x2C { i += 1; continue }
                if p[i] == 0x7D { i += 1; return true }
                return false
            }
        }

        /// A value at a path: scalars and lists as `JSON.parse` gives them (objects and nested
        /// lists as `.null`, see the type's comment).
        mutating func capture(depth: Int) -> Value? {
            guard depth < Self.maxDepth, i < end else { return nil }
            switch p[i] {
            case 0x22:
                guard let (s, e, _) = string() else { return nil }
                return .string(String(decoding: UnsafeBufferPointer(start: p + s, count: e - s), as: UTF8.self))
            case 0x5B:
                i += 1
                var items: [Value] = []
                skipSpace()
                if i < end, p[i] == 0x5D { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    guard i < end else { return nil }
                    if p[i] == 0x7B || p[i] == 0x5B {
                        guard skipValue(depth: depth + 1) else { return nil }
                        items.append(.null)
                    } else {
                        guard let v = capture(depth: depth + 1) else { return nil }
                        items.append(v)
                    }
                    skipSpace()
                    guard i < end else { return nil }
                    if p[i] == 0x2C { i += 1; continue }
                    if p[i] == 0x5D { i += 1; return .array(items) }
                    return nil
                }
            case 0x7B:
                return skipValue(depth: depth) ? .null : nil
            case 0x74: return literal("true") ? .bool(true) : nil
            case 0x66: return literal("false") ? .bool(false) : nil
            case 0x6E: return literal("null") ? .null : nil
            default:
                let s = i
                guard number() else { return nil }
                return .number(String(decoding: UnsafeBufferPointer(start: p + s, count: i - s), as: UTF8.self))
            }
        }

        /// Any value, checked and passed over.
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < Self.maxDepth, i < end else { return false }
            switch p[i] {
            case 0x22: return string() != nil
            case 0x7B:
                i += 1
                skipSpace()
                if i < end, p[i] == 0x7D { i += 1; return true }
                let first = keys.count
                defer { keys.removeLast(keys.count - first) }
                while true {
                    skipSpace()
                    guard i < end, p[i] == 0x22, let (ks, ke, ascii) = string(), newKey(ks, ke, ascii: ascii, first: first) else { return false }
                    skipSpace()
                    guard i < end, p[i] == 0x3A else { return false }
                    i += 1
                    skipSpace()
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                    guard i < end else { return false }
                    if p[i] == 0x2C { i += 1; continue }
                    if p[i] == 0x7D { i += 1; return true }
                    return false
                }
            case 0x5B:
                i += 1
                skipSpace()
                if i < end, p[i] == 0x5D { i += 1; return true }
                while true {
                    skipSpace()
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                    guard i < end else { return false }
                    if p[i] == 0x2C { i += 1; continue }
                    if p[i] == 0x5D { i += 1; return true }
                    return false
                }
            case 0x74: return literal("true")
            case 0x66: return literal("false")
            case 0x6E: return literal("null")
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard end - i >= n else { return false }
            let w = word.utf8Start
            for j in 0..<n where p[i + j] != w[j] { return false }
            i += n
            return true
        }

        /// `JSON.parse`'s number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func number() -> Bool {
            @inline(__always) func digits(_ r: inout Reader) -> Int {
                let s = r.i
                while r.i < r.end, (0x30...0x39).contains(r.p[r.i]) { r.i += 1 }
                return r.i - s
            }
            if i < end, p[i] == 0x2D { i += 1 }
            guard i < end, (0x30...0x39).contains(p[i]) else { return false }
            if p[i] == 0x30 { i += 1 } else { _ = digits(&self) }
            if i < end, p[i] == 0x2E {
                i += 1
                guard digits(&self) > 0 else { return false }
            }
            if i < end, p[i] == 0x65 || p[i] == 0x45 {
                i += 1
                if i < end, p[i] == 0x2B || p[i] == 0x2D { i += 1 }
                guard digits(&self) > 0 else { return false }
            }
            return true
        }

        /// At `"`: the content's range and whether it is ASCII; nil for an escape, a control byte,
        /// invalid UTF-8 or no closing quote (the general path decides).
        mutating func string() -> (Int, Int, Bool)? {
            i += 1
            let start = i
            var ascii = true
            while i < end {
                // Eight bytes at a time while none is a quote, a backslash, a control byte or beyond
                // ASCII (the usual "has a zero / a smaller byte" word tests, exact for whether any is).
                while end - i >= 8 {
                    let v = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                    let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
                    let quote = v ^ (ones &* 0x22), backslash = v ^ (ones &* 0x5C)
                    let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                        | ((v &- ones &* 0x20) & ~v) | v
                    if special & high != 0 { break }
                    i += 8
                }
                guard i < end else { break }
                let b = p[i]
                if b == 0x22 {
                    i += 1
                    return (start, i - 1, ascii)
                }
                if b == 0x5C || b < 0x20 { return nil }
                if b < 0x80 { i += 1; continue }
                ascii = false
                guard let n = UTF8Check.sequence(p, i, end) else { return nil }
                i += n
            }
            return nil
        }
    }
}

/// UTF-8 validity as the Unicode standard defines it (Table 3-7: no overlong forms, no surrogates,
/// nothing beyond U+10FFFF), which is what `String(validating:as: UTF8.self)` accepts.
enum UTF8Check {
    /// The length of the valid sequence that starts at `p[i]` (a byte of 0x80 or more), or nil.
    @inline(__always)
    static func sequence(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < end && p[i + k] >= lo && p[i + k] <= hi
        }
        switch b0 {
        case 0xC2...0xDF: return cont(1) ? 2 : nil
        case 0xE0: return cont(1, 0xA0) && cont(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : nil
        case 0xED: return cont(1, 0x80, 0x9F) && cont(2) ? 3 : nil
        case 0xF0: return cont(1, 0x90) && cont(2) && cont(3) ? 4 : nil
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : nil
        case 0xF4: return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : nil
        default: return nil
        }
    }

    /// True when `p[start..<end]` is valid UTF-8.
    static func valid(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        // Eight ASCII bytes at a time while they are ASCII (most cells are).
        while end - i >= 8, UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
        while i < end {
            if p[i] < 0x80 { i += 1; continue }
            guard let n = sequence(p, i, end) else { return false }
            i += n
        }
        return true
    }
}
