import DossierModel
import Foundation

/// Reads a CSV export (RFC 4180, UTF-8, a header row), one row at a time (`CSVRowReader`).
///
/// Every cell stays text. A row whose number of cells differs from the header is an error that
/// names the file and line.
public final class CSVCollector: FileCollector {
    public static let kind = "csv"
    let source: Source
    let context: CollectorContext
    private let delimiter: UInt8

    public init(source: Source, context: CollectorContext) throws(DossierError) {
        self.source = source
        self.context = context
        delimiter = source.options["delimiter"].flatMap { $0.utf8.count == 1 ? $0.utf8.first : nil } ?? UInt8(ascii: ",")
        try Self.checkFiles(of: source, in: context)
    }

    public func check(_ dataset: Dataset) throws(DossierError) -> [String] {
        var header: [String] = []
        try scan(dataset, header: { header = $0 }) { _ throws(DossierError) in }
        return header
    }

    func scan(_ dataset: Dataset, _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        try scan(dataset, header: { _ in }, body)
    }

    /// One scan; a row becomes a record only when one of its lookup cells can hold a wanted identifier.
    public func find(in dataset: Dataset, identifiers: [Identifier],
                     found: (Record, Identifier) throws(DossierError) -> Void) throws(DossierError) {
        let matcher = RecordMatcher(dataset: dataset, identifiers: identifiers, normalizer: context.normalizer)
        if matcher.isEmpty { return }
        let needles = matcher.rawNeedles
        let lookupColumns = Set(dataset.lookups.map(\.expression))
        var columns: [Int] = []
        try scan(dataset, header: { header in columns = header.indices.filter { lookupColumns.contains(header[$0]) } },
                 candidate: { header, row in
            if let needles {
                return columns.contains { i in needles.contains { RecordMatcher.contains(Array(row[i].utf8)[...], $0) } }
            }
            return !matcher.identifiers(in: Fields(columns.map { (header[$0], Value.string(row[$0])) })).isEmpty
        }) { record throws(DossierError) in
            for id in matcher.matches(record) { try found(record, id) }
        }
    }

    func scan(_ dataset: Dataset, header onHeader: ([String]) -> Void,
              candidate: ([String], [String]) -> Bool = { _, _ in true },
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        let file = context.file(of: dataset, in: source)
        let reader: CSVRowReader
        do { reader = try CSVRowReader(url: file, delimiter: delimiter) } catch {
            throw .unreadable("the file cannot be opened", file: file, source: source.id)
        }
        func failure(_ f: CSVRowReader.Failure) -> DossierError {
            switch f {
            case .unterminatedQuote(let line): return .unreadable("a quoted cell that begins on this line never ends", file: file, line: line, source: source.id)
            case .invalidUTF8(let line): return .unreadable("the line is not UTF-8 text", file: file, line: line, source: source.id)
            case .unreadable: return .unreadable("the file cannot be read", file: file, line: reader.line, source: source.id)
            }
        }
        let header: [String]
        do { header = try reader.nextRow() ?? [] } catch { throw failure(error) }
        if header.isEmpty || header == [""] {
            throw .unreadable("the header row is empty", file: file, line: 1, source: source.id)
        }
        if let dup = Dictionary(grouping: header, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw .unreadable("the header names the column '\(dup)' twice", file: file, line: 1, source: source.id)
        }
        onHeader(header)
        while true {
            let next: [String]?
            do { next = try reader.nextRow() } catch { throw failure(error) }
            guard let row = next else { break }
            if row.count == 1 && row[0].isEmpty { continue } // a blank line
            guard row.count == header.count else {
                throw .unreadable("line has \(row.count) cells where the header has \(header.count)", file: file, line: reader.rowLine, source: source.id)
            }
            guard candidate(header, row) else { continue }
            var record = Fields()
            for (name, cell) in zip(header, row) { record.append(name, .string(cell)) }
            try body(record)
        }
    }
}
