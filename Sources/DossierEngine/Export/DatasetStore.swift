import Crypto
import DossierFormats
import DossierModel
import Foundation

/// The records found in one dataset during a run, spilled to a staging file as they arrive so that
/// memory never holds the records themselves; what is known of each (identity, output key, place,
/// matches) is in a `RecordIndex`: in memory up to `memoryLimit` records, then in an SQLite file
/// in the staging folder, so that an export's memory does not grow with the number of records.
final class DatasetStore {
    /// Records a store keeps its index of in memory (a few hundred bytes each); beyond, the index
    /// moves to the staging folder. The bench's person with 1,000 records stays in memory.
    static let memoryLimit = 4096

    let source: Source
    let dataset: Dataset
    var id: DatasetID { DatasetID(source: source.id, dataset: dataset.id) }
    private let staging: Staging
    private let spillURL: URL
    private let scratchURL: URL
    private let memoryLimit: Int
    private var spill: OutputFile?
    private var offset: UInt64 = 0
    private var index: any RecordIndex = InMemoryRecordIndex()
    /// The identifiers that found records, numbered in the order they first did, with the number of
    /// records each found.
    private var identifiers: [Identifier] = []
    private var identifierNumbers: [Identifier: Int] = [:]
    private var found: [Int] = []
    /// Records found per identifier.
    var recordsFound: [Identifier: Int] {
        Dictionary(uniqueKeysWithValues: zip(identifiers, found).filter { $0.1 > 0 })
    }
    /// Each column, with the output key and entry of the record that comes first in output order
    /// among those that have it, and its place in that record: the columns' order then depends on the
    /// records alone, not on the order they were found in (which depends on the identifiers given).
    private var columnFirst: [String: (key: [UInt8], entry: Int, position: Int)] = [:]
    private var orderedColumns: [String]?
    /// The columns of the records in output order: in the order they first appear when the records
    /// are read in output order.
    var columns: [String] {
        if let orderedColumns { return orderedColumns }
        let ordered = columnFirst.sorted { a, b in
            let (x, y) = (a.value, b.value)
            if x.key != y.key { return x.key.lexicographicallyPrecedes(y.key) }
            return (x.entry, x.position, a.key) < (y.entry, y.position, b.key)
        }.map(\.key)
        orderedColumns = ordered
        return ordered
    }
    /// Field names present in records but not described by the map.
    private(set) var undescribedFields: Set<String> = []
    /// True when a value about another person was withheld from a stored record.
    private(set) var withheldThirdParty = false
    /// Why the dataset is left out of this export (portability), or nil.
    var excluded: String?
    /// Applied to every record before it is stored (after third-party redaction).
    var transform: (Record) -> Record = { $0 }
    /// Fields the reviewer withheld from this request's bundle.
    var reviewRedactions: [FieldPath] = []

    /// A part of a record's output key: numbers (by value, then text) before texts (by UTF-8 bytes)
    /// before missing values.
    enum SortKeyPart: Comparable {
        case number(Double, String)
        case text(String)
        case missing

        static func < (lhs: SortKeyPart, rhs: SortKeyPart) -> Bool {
            switch (lhs, rhs) {
            case let (.number(a, at), .number(b, bt)): return a != b ? a < b : at < bt
            case (.number, _): return true
            case (_, .number): return false
            case let (.text(a), .text(b)): return a.utf8.lexicographicallyPrecedes(b.utf8)
            case (.text, .missing): return true
            default: return false
            }
        }

        /// The part as bytes that compare (unsigned, a shorter prefix first) as the parts do, so
        /// that a key of several parts is their bytes one after the other, sorted by SQLite as by
        /// Swift: a tag (1 number, 2 text, 3 missing); a number's value as an order-preserving
        /// 64-bit big-endian integer (-0 as 0) before its text; texts with 0x00 written 0x00 0xFF and
        /// ended by 0x00 0x00.
        func encode(into bytes: inout [UInt8]) {
            switch self {
            case let .number(d, text):
                bytes.append(1)
                let bits = (d == 0 ? 0.0 : d).bitPattern
                let ordered = bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
                for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: ordered >> UInt64(shift))) }
                Self.encode(text, into: &bytes)
            case let .text(text):
                bytes.append(2)
                Self.encode(text, into: &bytes)
            case .missing:
                bytes.append(3)
            }
        }

        private static func encode(_ text: String, into bytes: inout [UInt8]) {
            for b in text.utf8 {
                bytes.append(b)
                if b == 0 { bytes.append(0xFF) }
            }
            bytes.append(0); bytes.append(0)
        }

        static func key(_ parts: [SortKeyPart]) -> [UInt8] {
            var bytes: [UInt8] = []
            for part in parts { part.encode(into: &bytes) }
            return bytes
        }
    }

    init(source: Source, dataset: Dataset, staging: Staging, index: Int, memoryLimit: Int = DatasetStore.memoryLimit) {
        self.source = source
        self.dataset = dataset
        self.staging = staging
        self.memoryLimit = memoryLimit
        spillURL = staging.folder.appendingPathComponent("spill-\(index).bin")
        scratchURL = staging.folder.appendingPathComponent("spill-\(index).sqlite")
    }

    var count: Int { index.count }

    /// Adds a found record (deduplicated by `key`, else by its canonical JSON) and notes the match.
    func add(_ record: Record, foundBy identifier: Identifier, round: Int) throws(DossierError) {
        let identity: String
        let key: [UInt8]
        if dataset.key.isEmpty {
            let digest = SHA256.hash(data: Data(Value.object(record).jsonText(canonical: true).utf8))
            identity = Hex.string(digest)
            key = SortKeyPart.key([.text(identity)])
        } else {
            let parts = dataset.key.map { record.value(at: $0) ?? .null }
            identity = Value.array(parts).jsonText(canonical: true)
            key = SortKeyPart.key(parts.map(Self.sortPart))
        }
        let number = identifierNumber(identifier)
        if let existing = try index.entry(identity: identity) {
            if try index.match(entry: existing, identifier: number, round: round) { found[number] += 1 }
            return
        }
        var redacted = Redaction.apply(to: record, in: dataset)
        if redacted != record { withheldThirdParty = true }
        for path in reviewRedactions { redacted = Redaction.redact(redacted, path.components[...], with: Redaction.reviewMarker) }
        let stored = transform(redacted)
        var bytes: [UInt8] = []
        ValueCoding.encode(.object(stored), into: &bytes)
        if spill == nil { spill = try OutputFile(url: spillURL, staging: staging) }
        try spill!.write(bytes: bytes)
        if index.count == memoryLimit, let memory = index as? InMemoryRecordIndex {
            let scratch = try ScratchRecordIndex(url: scratchURL)
            try memory.move(to: scratch)
            index = scratch
        }
        let entry = index.count
        try index.append(identity: identity, key: key, offset: offset, length: bytes.count)
        offset += UInt64(bytes.count)
        if try index.match(entry: entry, identifier: number, round: round) { found[number] += 1 }
        orderedColumns = nil
        for (position, name) in CSVDatasetWriter.columns(of: stored).enumerated() {
            if let first = columnFirst[name], !key.lexicographicallyPrecedes(first.key) { continue }
            columnFirst[name] = (key, entry, position)
        }
        for name in record.names where !dataset.describes(fieldNamed: name) {
            undescribedFields.insert(name)
        }
    }

    private func identifierNumber(_ identifier: Identifier) -> Int {
        if let n = identifierNumbers[identifier] { return n }
        identifierNumbers[identifier] = identifiers.count
        identifiers.append(identifier)
        found.append(0)
        return identifiers.count - 1
    }

    static func sortPart(_ value: Value) -> SortKeyPart {
        guard let text = value.scalarText else { return value.isNull ? .missing : .text(value.jsonText(canonical: true)) }
        if DecimalText.isPlain(text, signed: true), let d = Double(text), d.isFinite {
            return .number(d, text)
        }
        return .text(text)
    }

    /// Streams the first `limit` records in output order (by key, then as found).
    func forEachRecord(limit: Int = .max, _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        guard let spill else { return }
        try index.forEachPlace(limit: limit) { offset, length throws(DossierError) in
            let bytes = try spill.read(at: Int(offset), count: length)
            guard case .object(let record)? = try? ValueCoding.decode(bytes) else {
                throw DossierError(.internal, "a staged record is damaged", at: SourceLocation(file: spillURL.path))
            }
            try body(record)
        }
    }

    /// Every time an identifier found a record, in the order found (an identifier that finds a record
    /// again is noted once, with its first round), with the record's position in output order.
    func forEachMatch(_ body: (_ identifier: Identifier, _ round: Int, _ position: Int) throws(DossierError) -> Void) throws(DossierError) {
        let identifiers = self.identifiers
        try index.forEachMatch { number, round, position throws(DossierError) in
            try body(identifiers[number], round, position)
        }
    }

    func close() throws(DossierError) {
        try spill?.close()
    }
}

/// The stores of one export: one per dataset, in the map's order, found by dataset id.
struct DatasetStores {
    let all: [DatasetStore]
    private let byID: [DatasetID: DatasetStore]

    init(_ stores: [DatasetStore]) {
        all = stores
        byID = Dictionary(uniqueKeysWithValues: stores.map { ($0.id, $0) })
    }

    subscript(id: DatasetID) -> DatasetStore? { byID[id] }

    /// True when some dataset holds a record of the person.
    var hasData: Bool { all.contains { $0.count > 0 } }
}

/// Art. 15(4): values of fields the map marks `third_party` are withheld from the copy.
public enum Redaction {
    /// The marker that stands in place of a withheld value, in every format.
    public static let marker = "[withheld: third-party data]"
    /// The marker of a value withheld at review (`request review --redact`), with its reason in the manifest.
    public static let reviewMarker = "[withheld]"

    public static func apply(to record: Record, in dataset: Dataset) -> Record {
        var result = record
        for path in dataset.thirdPartyPaths { result = redact(result, path.components[...]) }
        return result
    }

    static func redact(_ fields: Fields, _ path: ArraySlice<String>, with marker: String = marker) -> Fields {
        guard let first = path.first, let value = fields[first] else { return fields }
        var copy = fields
        if path.count == 1 {
            if !value.isNull { copy[first] = .string(marker) }
        } else if case .object(let nested) = value {
            copy[first] = .object(redact(nested, path.dropFirst(), with: marker))
        }
        return copy
    }
}

/// Fields a reviewer withholds from one request's bundle, with the reason the person is told.
///
/// ```swift
/// let r = try ReviewRedactions(fields: ["crm/contacts/notes"], reason: "notes about a colleague's health")
/// ```
public struct ReviewRedactions: Sendable, Equatable {
    /// `source/dataset/field.path`, sorted, each once.
    public let fields: [String]
    public let reason: String

    public init(fields: [String], reason: String) {
        self.fields = Array(Set(fields)).sorted()
        self.reason = reason
    }

    /// The paths withheld in `source`/`dataset`.
    func paths(source: String, dataset: String) -> [FieldPath] {
        let prefix = "\(source)/\(dataset)/"
        return fields.filter { $0.hasPrefix(prefix) }.map { FieldPath(String($0.dropFirst(prefix.count))) }
    }

    /// The stored form (`{"fields": [...], "reason": "..."}`), and back.
    public var json: String {
        Value.object(Fields([("fields", .array(fields.map { .string($0) })), ("reason", .string(reason))])).jsonText(canonical: true)
    }

    public init?(json: String?) {
        guard let json, case .object(let o)? = try? JSON.parse(json), case .array(let items)? = o["fields"],
              let reason = o["reason"]?.scalarText else { return nil }
        self.init(fields: items.compactMap(\.scalarText), reason: reason)
    }
}

/// Art. 20: the data a person provided (including observed data), processed on consent or contract;
/// nothing derived, nothing about other people; a map may narrow the set with `portable: false`.
public enum Portability {
    /// Why a dataset has no place in a portability export, or nil when it has.
    public static func exclusion(of dataset: Dataset, in map: DataMap) -> String? {
        let bases = dataset.purposes.compactMap { map.purpose($0)?.legalBasis }
        if !bases.contains(where: \.allowsPortability) {
            return "not portable: none of its purposes rests on consent or contract"
        }
        if !dataset.origin.isProvided && !dataset.fields.contains(where: { $0.origin?.isProvided == true }) {
            return "not portable: the data was not provided by the person (\(dataset.origin.rawValue))"
        }
        return nil
    }

    /// The record with only its portable fields.
    public static func filter(_ record: Record, in dataset: Dataset) -> Record {
        filter(record, prefix: "", in: dataset)
    }

    /// A field described by the map follows its own rule; an undescribed one its dataset's origin; an
    /// undescribed object with described fields inside keeps just its portable fields.
    static func filter(_ fields: Fields, prefix: String, in dataset: Dataset) -> Fields {
        var result = Fields()
        for (name, value) in fields {
            let path = prefix.isEmpty ? name : "\(prefix).\(name)"
            if let spec = dataset.field(path) {
                if isPortable(spec, in: dataset) { result.append(name, prune(value, prefix: path, in: dataset)) }
            } else if case .object(let nested) = value, dataset.fields.contains(where: { $0.path.description.hasPrefix(path + ".") }) {
                let kept = filter(nested, prefix: path, in: dataset)
                if !kept.isEmpty { result.append(name, .object(kept)) }
            } else if dataset.origin.isProvided {
                result.append(name, value)
            }
        }
        return result
    }

    static func isPortable(_ spec: FieldSpec, in dataset: Dataset) -> Bool {
        !spec.thirdParty && spec.portable != false && (spec.origin ?? dataset.origin).isProvided
    }

    /// Removes nested fields the map describes as not portable.
    static func prune(_ value: Value, prefix: String, in dataset: Dataset) -> Value {
        guard case .object(let fields) = value else { return value }
        var kept = Fields()
        for (name, v) in fields {
            let path = "\(prefix).\(name)"
            if let spec = dataset.field(path), !isPortable(spec, in: dataset) { continue }
            kept.append(name, prune(v, prefix: path, in: dataset))
        }
        return .object(kept)
    }
}
