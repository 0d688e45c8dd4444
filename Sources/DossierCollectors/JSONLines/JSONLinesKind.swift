import DossierModel
import Foundation

/// `kind: jsonl`: a JSON Lines file, one JSON object a line, streamed. Values keep their JSON types,
/// numbers their text; `where` selects one kind of record in a file that holds several.
enum JSONLinesKind: FileSourceKind {
    static let name = "jsonl"
    static func format(for source: Source) -> JSONLinesFormat { JSONLinesFormat() }
}

/// Reads JSON Lines records; with a prefilter, lines that cannot hold a wanted identifier are not
/// parsed into records (`RecordMatcher.mightMatch`), only checked to be one JSON object
/// (`JSONProjection` with no path): a corrupt line is reported wherever it is.
struct JSONLinesFormat: RecordFileFormat {
    func scan(_ file: URL, dataset: Dataset, source: String, prefilter: RecordMatcher?,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        try lines(file, source: source, prefilter: prefilter) { record, _ throws(DossierError) in try body(record) }
    }

    /// Every line's object with the line's byte range.
    func lines(_ file: URL, source: String, prefilter: RecordMatcher?,
               _ body: (Record, ByteRange) throws(DossierError) -> Void) throws(DossierError) {
        let needles = prefilter?.rawNeedles
        // A line the prefilter skips is still checked to be one JSON object: a corrupt line is
        // reported whether or not it could hold a wanted identifier.
        let validator = JSONProjection([])
        var none: [Value?] = []
        try Self.lines(of: file, source: source) { line, reader throws(DossierError) in
            if let needles, !RecordMatcher.mightMatch(raw: line, needles: needles), validator.project(line, into: &none) { return }
            let record = try Self.object(line, file: file, line: reader.lineNumber, source: source)
            try body(record, ByteRange(offset: reader.lineOffset, length: reader.lineLength))
        }
    }

    /// Every line of the file that is not blank, without its line end (and the byte order mark of
    /// the first), with the reader that says where it is.
    static func lines(of file: URL, source: String,
                      _ body: (ArraySlice<UInt8>, LineReader) throws(DossierError) -> Void) throws(DossierError) {
        let reader: LineReader
        do { reader = try LineReader(url: file) } catch {
            throw .unreadable("the file cannot be opened", file: file, source: source)
        }
        while true {
            let next: ArraySlice<UInt8>?
            do { next = try reader.next() } catch {
                throw .unreadable(error is LineReader.LineTooLong ? "line is longer than \(LineReader.maxLine >> 20) MiB" : "the file cannot be read",
                                  file: file, line: reader.lineNumber + 1, source: source)
            }
            guard var line = next else { break }
            if reader.lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            try body(line, reader)
        }
    }

    /// The line's object, or the error that says why it is none.
    static func object(_ line: ArraySlice<UInt8>, file: URL, line number: Int, source: String) throws(DossierError) -> Record {
        let value: Value
        do { value = try JSON.parse(line) } catch {
            throw .unreadable("line is not JSON (\(error.message) at column \(error.column))", file: file, line: number, source: source)
        }
        guard case .object(let record) = value else {
            throw .unreadable("line is not a JSON object", file: file, line: number, source: source)
        }
        return record
    }

    /// The lines as `lines` reads them, but only the values at `fields` of each (`JSONProjection`);
    /// a line the projection leaves to the general path is parsed whole, as a scan parses it, and
    /// reported the same way when it is not one JSON object.
    func scanRanges(_ file: URL, datasets: [Dataset], fields: [FieldPath], source: String,
                    _ body: ([Value?], ByteRange, [Int]) throws(DossierError) -> Void) throws(DossierError) -> RangeScan {
        let all = Array(datasets.indices)
        let projection = JSONProjection(fields)
        var values = [Value?](repeating: nil, count: fields.count)
        try Self.lines(of: file, source: source) { line, reader throws(DossierError) in
            if !projection.project(line, into: &values) {
                let record = try Self.object(line, file: file, line: reader.lineNumber, source: source)
                Self.projection(of: record, at: fields, into: &values)
            }
            try body(values, ByteRange(offset: reader.lineOffset, length: reader.lineLength), all)
        }
        return .done(layout: nil)
    }

    func record(from bytes: [UInt8], range: ByteRange, dataset: Dataset, layout: Void, file: URL, source: String) throws(DossierError) -> Record? {
        var line = bytes[...]
        if range.offset == 0, line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
        while let last = line.last, last == 0x0A || last == 0x0D { line = line.dropLast() }
        let reason: String
        do {
            if case .object(let record) = try JSON.parse(line) { return record }
            reason = "line is not a JSON object"
        } catch {
            reason = "line is not JSON (\(error.message) at column \(error.column))"
        }
        // Said as a scan says it, with its line, and with the index: the build checked the line
        // (every object's keys included), so the file most likely changed after it, but the line
        // itself is what is wrong now, and where it is is what the reader needs.
        throw .unreadable("\(reason), where the lookup index points; if the file changed after the index was built, rebuild it",
                          file: file, line: try Self.lineNumber(at: range.offset, in: file, source: source), source: source)
    }

    /// The number of the line that starts at `offset` (1 for the first): the line ends before it,
    /// counted (only when a record read back through an index is no JSON object).
    static func lineNumber(at offset: UInt64, in file: URL, source: String) throws(DossierError) -> Int {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable("the file cannot be opened", file: file, source: source) }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var at: UInt64 = 0, lines = 1
        while at < offset {
            let want = Int(min(UInt64(chunk.count), offset - at))
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(at)) }
            guard n > 0 else { break }
            lines += chunk[..<n].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            at += UInt64(n)
        }
        return lines
    }
}
