import Foundation

/// A value of a record, as the source held it.
///
/// Numbers keep the text they were written with (`1230.00` stays `1230.00`), so amounts are never
/// passed through binary floating point; text from CSV and XML stays text.
///
/// ```swift
/// let v: Value = .object(Fields([("id", .number("17")), ("email", .string("anna@example.pl"))]))
/// v["email"]   // .string("anna@example.pl")
/// ```
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number in its lexical JSON form (`17`, `-12.50`, `1e3`).
    case number(String)
    case string(String)
    case binary(Data)
    case object(Fields)
    case array([Value])

    /// The value at a dotted path (`billing.city`), or nil when absent.
    public func value(at path: FieldPath) -> Value? {
        var current = self
        for component in path.components {
            guard case .object(let fields) = current, let next = fields[component] else { return nil }
            current = next
        }
        return current
    }

    /// The text by which the value is compared as an identifier: numbers and strings as written,
    /// booleans as `true`/`false`; nil for null, objects, lists and binaries.
    public var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null, .binary, .object, .array: return nil
        }
    }

    /// The texts by which a field is compared as an identifier: its own, or each element's of a list.
    public var scalarTexts: [String] {
        if case .array(let items) = self { return items.compactMap(\.scalarText) }
        return scalarText.map { [$0] } ?? []
    }

    /// True when the value is `null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }
}

/// The fields of a record or nested object, in the order the source gave them.
public struct Fields: Sendable, Hashable, Sequence {
    public private(set) var entries: [(name: String, value: Value)]

    public init(_ entries: [(String, Value)] = []) {
        self.entries = entries.map { (name: $0.0, value: $0.1) }
    }

    public subscript(name: String) -> Value? {
        get { entries.first(where: { $0.name == name })?.value }
        set {
            if let index = entries.firstIndex(where: { $0.name == name }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append((name: name, value: newValue))
            }
        }
    }

    /// Appends a field without checking for an earlier one of the same name.
    public mutating func append(_ name: String, _ value: Value) {
        entries.append((name: name, value: value))
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var names: [String] { entries.map(\.name) }

    public func makeIterator() -> IndexingIterator<[(name: String, value: Value)]> { entries.makeIterator() }

    public static func == (lhs: Fields, rhs: Fields) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for entry in entries { hasher.combine(entry.name); hasher.combine(entry.value) }
    }
}

/// A record: one row or object about the subject, with its fields.
public typealias Record = Fields

extension Fields {
    /// The value at a dotted path, or nil when absent.
    public func value(at path: FieldPath) -> Value? { Value.object(self).value(at: path) }
}

/// A dotted field path (`billing.city`), as the data map names nested fields.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public let components: [String]
    /// Splits on dots. A field whose own name holds a dot cannot be named by a path.
    public init(_ text: String) { components = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
    public var description: String { components.joined(separator: ".") }
}
