import DossierMap
import DossierModel
import Foundation

/// `kind: csv`: a CSV export (RFC 4180, UTF-8, a header row), read one row at a time (`CSVRowReader`).
///
/// Its own map key: `delimiter` on the source (one ASCII character; default `,`). Every cell stays
/// text. A row whose number of cells differs from the header is an error that names the file and line.
enum CSVKind: FileSourceKind {
    static let name = "csv"
    static let sourceKeys: Set<String> = ["path", "delimiter"]

    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        guard key == "delimiter" else { return try readFileKey(sourceKey: key, value, into: &source) }
        let d = try value.string()
        guard d.utf8.count == 1, d != "\"", d != "\n", d != "\r" else {
            throw value.fail("delimiter must be one ASCII character other than a quote or a line break, such as ; or a tab")
        }
        source.options["delimiter"] = d
    }

    static func format(for source: Source) -> CSVFormat {
        CSVFormat(delimiter: source.options["delimiter"].flatMap { $0.utf8.count == 1 ? $0.utf8.first : nil } ?? UInt8(ascii: ","))
    }

    /// A CSV file's columns are its header's: a lookup, `where` or `yields` naming a column the
    /// header lacks would find nothing in any row, and the bundle would say "no data". Refused first.
    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        let format = format(for: source)
        // The collector first: it refuses what is not a regular file before any header is read.
        let collector = try FileCollector(source: source, context: context, format: format)
        do throws(DossierError) { try checkColumns(of: source, in: context, format: format) } catch {
            await collector.close()
            throw error
        }
        return collector
    }

    static func checkColumns(of source: Source, in context: CollectorContext, format: CSVFormat) throws(DossierError) {
        var headers: [String: [String]] = [:]
        for dataset in source.datasets {
            let file = context.file(of: dataset, in: source)
            if headers[file.path] == nil { headers[file.path] = try format.layout(of: file, stored: nil, source: source.id) }
            let header = headers[file.path]!
            let header1 = SourceLocation(file: file.path, line: 1)
            func lacks(_ column: String) -> String { "the header has no column '\(column)'" }
            for lookup in dataset.lookups where !header.contains(lookup.expression) {
                throw context.missingField("lookup \(lookup.kind.name)", lacks: lacks(lookup.expression), dataset: dataset, source: source, at: lookup.location, in: header1)
            }
            for y in dataset.yields {
                for path in y.paths where !header.contains(path.components.first ?? "") {
                    throw context.missingField("yields \(y.kind.name)", lacks: lacks(path.description), dataset: dataset, source: source, at: y.location, in: header1)
                }
            }
            for (path, _) in dataset.filter where !header.contains(path.components.first ?? "") {
                throw context.missingField("where", lacks: lacks(path.description), dataset: dataset, source: source, at: dataset.location, in: header1)
            }
        }
    }
}

/// Reads CSV records; with a prefilter, a row becomes a record only when one of its lookup cells
/// holds a wanted identifier.
struct CSVFormat: RecordFileFormat {
    let delimiter: UInt8

    /// The header: read-back parses one row and names its cells.
    func layout(of file: URL, stored: String?, source: String) throws(DossierError) -> [String] {
        var header: [String] = []
        try rows(file, source: source, header: { header = $0 }, until: { true }) { _, _ throws(DossierError) in }
        return header
    }

    func scanRanges(_ file: URL, datasets: [Dataset], fields: [FieldPath], source: String,
                    _ body: ([Value?], ByteRange, [Int]) throws(DossierError) -> Void) throws(DossierError) -> RangeScan {
        let all = Array(datasets.indices)
        var values = [Value?](repeating: nil, count: fields.count)
        // A field is a column when its path is one name the header holds (`Fields.value(at:)` on a
        // row: cells are text, so a longer path finds nothing); only those cells become values.
        let scanner: CSVCellScanner
        do { scanner = try CSVCellScanner(url: file, delimiter: delimiter) } catch {
            throw .unreadable("the file cannot be opened", file: file, source: source)
        }
        func next() throws(DossierError) -> Int? {
            do { return try scanner.nextRow() } catch { throw failure(error, file: file, line: scanner.line, source: source) }
        }
        let header = try next().map { n in (0..<n).map { scanner.cell($0) } } ?? []
        try check(header: header, file: file, source: source)
        let columns = fields.map { path in path.components.count == 1 ? header.firstIndex(of: path.components[0]) : nil }
        while let n = try next() {
            if n == 1 && scanner.cellIsEmpty(0) { continue } // a blank line
            guard n == header.count else {
                throw .unreadable("line has \(n) cells where the header has \(header.count)", file: file, line: scanner.rowLine, source: source)
            }
            for (k, column) in columns.enumerated() { values[k] = column.map { .string(scanner.cell($0)) } }
            try body(values, ByteRange(offset: scanner.rowOffset, length: Int(scanner.offset - scanner.rowOffset)), all)
        }
        return .done(layout: nil)
    }

    /// Why a row cannot be read, in words.
    func failure(_ f: CSVRowReader.Failure, file: URL, line: Int, source: String) -> DossierError {
        switch f {
        case .unterminatedQuote(let line): return .unreadable("a quoted cell that begins on this line never ends", file: file, line: line, source: source)
        case .invalidUTF8(let line): return .unreadable("the line is not UTF-8 text", file: file, line: line, source: source)
        case .cellTooLong(let line): return .unreadable("a cell is longer than \(CSVRowReader.maxCell >> 20) MiB", file: file, line: line, source: source)
        case .unreadable: return .unreadable("the file cannot be read", file: file, line: line, source: source)
        }
    }

    /// A header names at least one column, each once.
    func check(header: [String], file: URL, source: String) throws(DossierError) {
        if header.isEmpty || header == [""] {
            throw .unreadable("the header row is empty", file: file, line: 1, source: source)
        }
        if let dup = Dictionary(grouping: header, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw .unreadable("the header names the column '\(dup)' twice", file: file, line: 1, source: source)
        }
    }

    func record(from bytes: [UInt8], range: ByteRange, dataset: Dataset, layout header: [String], file: URL, source: String) throws(DossierError) -> Record? {
        let reader = CSVRowReader(bytes: bytes, delimiter: delimiter)
        guard let row = try? reader.nextRow(), row.count == header.count else { return nil }
        var record = Fields()
        for (name, cell) in zip(header, row) { record.append(name, .string(cell)) }
        return record
    }

    func fieldNames(_ file: URL, dataset: Dataset, source: String, normalizer: any IdentifierNormalizer) throws(DossierError) -> [String] {
        try layout(of: file, stored: nil, source: source)
    }

    func scan(_ file: URL, dataset: Dataset, source: String, prefilter: RecordMatcher?,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        guard let matcher = prefilter else {
            return try rows(file, source: source, header: { _ in }) { record, _ throws(DossierError) in try body(record) }
        }
        // Only the lookup cells are normalised and compared before a row becomes a record.
        let lookupColumns = Set(dataset.lookups.map(\.expression))
        var columns: [Int] = []
        try rows(file, source: source, header: { header in columns = header.indices.filter { lookupColumns.contains(header[$0]) } },
                 candidate: { header, row in
            !matcher.identifiers(in: Fields(columns.map { (header[$0], Value.string(row[$0])) })).isEmpty
        }) { record, _ throws(DossierError) in try body(record) }
    }

    /// Every row that passes `candidate` as a record, with its byte range; stops after the header
    /// when `until` says so.
    func rows(_ file: URL, source: String, header onHeader: ([String]) -> Void, until stop: () -> Bool = { false },
              candidate: ([String], [String]) -> Bool = { _, _ in true },
              _ body: (Record, ByteRange) throws(DossierError) -> Void) throws(DossierError) {
        var header: [String] = []
        try cells(file, source: source, header: { header = $0; onHeader($0) }, until: stop) { row, range throws(DossierError) in
            guard candidate(header, row) else { return }
            var record = Fields()
            for (name, cell) in zip(header, row) { record.append(name, .string(cell)) }
            try body(record, range)
        }
    }

    /// Every row's cells (as many as the header's, checked), with its byte range; stops after the
    /// header when `until` says so.
    func cells(_ file: URL, source: String, header onHeader: ([String]) -> Void, until stop: () -> Bool = { false },
               _ body: ([String], ByteRange) throws(DossierError) -> Void) throws(DossierError) {
        let reader: CSVRowReader
        do { reader = try CSVRowReader(url: file, delimiter: delimiter) } catch {
            throw .unreadable("the file cannot be opened", file: file, source: source)
        }
        func failure(_ f: CSVRowReader.Failure) -> DossierError { self.failure(f, file: file, line: reader.line, source: source) }
        let header: [String]
        do { header = try reader.nextRow() ?? [] } catch { throw failure(error) }
        try check(header: header, file: file, source: source)
        onHeader(header)
        if stop() { return }
        while true {
            let next: [String]?
            do { next = try reader.nextRow() } catch { throw failure(error) }
            guard let row = next else { break }
            if row.count == 1 && row[0].isEmpty { continue } // a blank line
            guard row.count == header.count else {
                throw .unreadable("line has \(row.count) cells where the header has \(header.count)", file: file, line: reader.rowLine, source: source)
            }
            try body(row, ByteRange(offset: reader.rowOffset, length: Int(reader.offset - reader.rowOffset)))
        }
    }
}
