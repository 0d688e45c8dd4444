import DossierModel
import Foundation

/// Reads a JSON Lines file: one JSON object a line, streamed. Values keep their JSON types, numbers
/// their text; `where` selects one kind of record in a file that holds several.
public final class JSONLinesCollector: FileCollector {
    public static let kind = "jsonl"
    let source: Source
    let context: CollectorContext

    public init(source: Source, context: CollectorContext) throws(DossierError) {
        self.source = source
        self.context = context
        try Self.checkFiles(of: source, in: context)
    }

    public func check(_ dataset: Dataset) throws(DossierError) -> [String] { try fieldNames(of: dataset) }

    /// One scan; lines that cannot hold a wanted identifier are not parsed (`RecordMatcher.mightMatch`),
    /// unless they do not even look like one object (a truncated line is still reported).
    public func find(in dataset: Dataset, identifiers: [Identifier],
                     found: (Record, Identifier) throws(DossierError) -> Void) throws(DossierError) {
        let matcher = RecordMatcher(dataset: dataset, identifiers: identifiers, normalizer: context.normalizer)
        if matcher.isEmpty { return }
        let needles = matcher.rawNeedles
        try scan(dataset, candidate: { raw in
            guard let needles, Self.looksLikeOneObject(raw) else { return true }
            return RecordMatcher.mightMatch(raw: raw, needles: needles)
        }) { record throws(DossierError) in
            for id in matcher.matches(record) { try found(record, id) }
        }
    }

    func scan(_ dataset: Dataset, _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        try scan(dataset, candidate: { _ in true }, body)
    }

    /// `{` first and `}` last, spaces aside.
    static func looksLikeOneObject(_ raw: ArraySlice<UInt8>) -> Bool {
        let space: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        return raw.first(where: { !space($0) }) == 0x7B && raw.last(where: { !space($0) }) == 0x7D
    }

    func scan(_ dataset: Dataset, candidate: (ArraySlice<UInt8>) -> Bool,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        let file = context.file(of: dataset, in: source)
        let reader: LineReader
        do { reader = try LineReader(url: file) } catch {
            throw .unreadable("the file cannot be opened", file: file, source: source.id)
        }
        while true {
            let next: ArraySlice<UInt8>?
            do { next = try reader.next() } catch {
                throw .unreadable("the file cannot be read", file: file, line: reader.lineNumber + 1, source: source.id)
            }
            guard var line = next else { break }
            if reader.lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) || !candidate(line) { continue }
            let value: Value
            do { value = try JSON.parse(line) } catch {
                throw .unreadable("line is not JSON (\(error.message) at column \(error.column))", file: file, line: reader.lineNumber, source: source.id)
            }
            guard case .object(let record) = value else {
                throw .unreadable("line is not a JSON object", file: file, line: reader.lineNumber, source: source.id)
            }
            try body(record)
        }
    }
}
