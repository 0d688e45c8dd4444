import DossierModel
import Foundation

/// Reads a JSON Lines file: one JSON object a line, streamed. Values keep their JSON types, numbers
/// their text; `where` selects one kind of record in a file that holds several.
public final class JSONLinesCollector: Collector {
    public static let kind = "jsonl"
    private let source: Source
    private let context: CollectorContext

    public init(source: Source, context: CollectorContext) throws(DossierError) {
        self.source = source
        self.context = context
        for dataset in source.datasets {
            let file = context.file(of: dataset, in: source)
            guard FileManager.default.isReadableFile(atPath: file.path) else {
                throw .unreadable("the file does not exist or cannot be read", file: file, source: source.id)
            }
        }
    }

    public func find(in dataset: Dataset, identifiers: [Identifier],
                     found: (Record, Identifier) throws(DossierError) -> Void) throws(DossierError) {
        let matcher = RecordMatcher(dataset: dataset, identifiers: identifiers, normalizer: context.normalizer)
        if matcher.isEmpty { return }
        try scan(dataset) { record throws(DossierError) in
            for id in matcher.matches(record) { try found(record, id) }
        }
    }

    public func check(_ dataset: Dataset) throws(DossierError) -> [String] {
        let matcher = RecordMatcher(dataset: dataset, identifiers: [], normalizer: context.normalizer)
        var names: [String] = []
        var known: Set<String> = []
        try scan(dataset) { record throws(DossierError) in
            guard matcher.passesFilter(record) else { return }
            for name in record.names where known.insert(name).inserted { names.append(name) }
        }
        return names
    }

    func scan(_ dataset: Dataset, _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
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
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
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
