import CSV
import DossierModel
import Foundation

/// Reads a CSV export (RFC 4180, UTF-8, a header row) with yaslab/CSV.swift, one row at a time.
///
/// Every cell stays text. A row whose number of cells differs from the header is an error that
/// names the file and line.
public final class CSVCollector: FileCollector {
    public static let kind = "csv"
    let source: Source
    let context: CollectorContext
    private let delimiter: UnicodeScalar

    public init(source: Source, context: CollectorContext) throws(DossierError) {
        self.source = source
        self.context = context
        delimiter = source.options["delimiter"].flatMap { $0.unicodeScalars.first } ?? ","
        try Self.checkFiles(of: source, in: context)
    }

    public func check(_ dataset: Dataset) throws(DossierError) -> [String] {
        var header: [String] = []
        try scan(dataset, header: { header = $0 }) { _ throws(DossierError) in }
        return header
    }

    static func isEndOfFile(_ error: any Error) -> Bool {
        if case CSVError.cannotReadFile = error { return true }
        return false
    }

    /// Streams every row of the dataset's file as a record.
    func scan(_ dataset: Dataset, _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        try scan(dataset, header: { _ in }, body)
    }

    func scan(_ dataset: Dataset, header onHeader: ([String]) -> Void,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        let file = context.file(of: dataset, in: source)
        guard let stream = InputStream(fileAtPath: file.path) else {
            throw .unreadable("the file cannot be opened", file: file, source: source.id)
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true, trimFields: false, delimiter: delimiter)
        } catch {
            throw .unreadable("the header row cannot be read (is it UTF-8 CSV?)", file: file, line: 1, source: source.id)
        }
        var header = reader.headerRow ?? []
        if let first = header.first, first.hasPrefix("\u{FEFF}") { header[0] = String(first.dropFirst()) }
        if header.isEmpty || header == [""] {
            throw .unreadable("the header row is empty", file: file, line: 1, source: source.id)
        }
        if let dup = Dictionary(grouping: header, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw .unreadable("the header names the column '\(dup)' twice", file: file, line: 1, source: source.id)
        }
        onHeader(header)
        var line = 1
        while let row = reader.next() {
            line += 1
            let startLine = line
            line += row.reduce(0) { $0 + $1.reduce(0) { $1 == "\n" || $1 == "\r\n" ? $0 + 1 : $0 } }
            if row.count == 1 && row[0].isEmpty { continue } // a blank line
            guard row.count == header.count else {
                throw .unreadable("line has \(row.count) cells where the header has \(header.count)", file: file, line: startLine, source: source.id)
            }
            var record = Fields()
            for (name, cell) in zip(header, row) { record.append(name, .string(cell)) }
            try body(record)
        }
        // On Linux, Foundation's file stream says it has bytes until a read returns none, and
        // CSV.swift reports that last empty read as `cannotReadFile`: at the end of the stream it is
        // the end of the file, not an error.
        if let error = reader.error, !(Self.isEndOfFile(error) && stream.streamStatus == .atEnd) {
            throw .unreadable("the file cannot be read as UTF-8 CSV (\(error))", file: file, line: line + 1, source: source.id)
        }
    }
}
