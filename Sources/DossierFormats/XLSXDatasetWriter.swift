import CArchive
import DossierModel
import Foundation

/// `data/<source>/<dataset>.xlsx`: the CSV's table as a spreadsheet that LibreOffice and Excel open
/// with every letter right and without an import dialog, which no CSV variant achieves in
/// LibreOffice (its default import reads a CSV in an 8-bit charset, with or without a byte order
/// mark; UTF-16 fares no better).
///
/// An `.xlsx` is a zip of a few XML parts (ECMA-376, SpreadsheetML). This writer streams the sheet's
/// XML straight into a zip written by libarchive, row by row, so memory does not grow with the
/// records and nothing goes through a temporary file. It was libxlsxwriter (Debian's 1.1.4) until
/// `make bench` showed its fixed cost: every part of every spreadsheet went through a temporary file
/// of its own and minizip, 1.0–1.7 ms a spreadsheet of a few rows, a quarter of a Chinook export's
/// time in a batch; this writer takes about 0.23 ms (the Chinook batch's 177 spreadsheets, timed
/// around each writer in a release build; README, "Performance"). The parts are
/// the ones libxlsxwriter wrote in its constant-memory mode: inline strings, a bold header row that
/// stays in view (a frozen pane), no shared strings, no formulas.
///
/// Text stays text (a cell beginning with `=` is not a formula), a JSON number that a spreadsheet can
/// hold exactly (15 significant digits) is a number, anything longer stays text, `true`/`false` are
/// booleans. What a spreadsheet cannot hold is said in the cell, never silently dropped: a value
/// longer than 32,767 characters is cut with `[…]` at its end, and records beyond 1,048,575 rows
/// continue on a further sheet; columns beyond the 16,384th are left out (the CSV, JSON and XML hold
/// everything). Characters XML cannot carry (control characters) are written as `_xHHHH_`, as the
/// standard says, and a text that itself looks like such an escape has its `_` escaped. With
/// `created` fixed, the same records give the same bytes.
public final class XLSXDatasetWriter: DatasetWriter {
    /// A spreadsheet's limits (Excel's, which LibreOffice shares).
    static let maxRows = 1_048_576
    static let maxColumns = 16_384
    static let maxCharacters = 32_767
    static let cutMark = " […]"

    private let url: URL
    private let archive: OpaquePointer
    private let sink: Sink
    private let entryTime: Int
    private let columns: [String]
    private let index: [String: Int]
    /// The column letters of each column (`A`, …, `XFD`).
    private let letters: [[UInt8]]
    private let sheetName: String
    private var sheets = 0
    private let declaredSheets: Int
    private var row = 0
    private var buffer: [UInt8] = []
    private var closed = false

    /// Rows a sheet holds, its header row included (Excel's and LibreOffice's limit; smaller in tests).
    private let rowsPerSheet: Int

    /// Where libarchive's output goes: the file, and the first error writing it.
    private final class Sink {
        let file: OutputFile
        var error: DossierError?
        init(_ file: OutputFile) { self.file = file }
    }

    public convenience init(url: URL, header: DatasetHeader, created: Date) throws(DossierError) {
        try self.init(file: OutputFile(url: url), header: header, created: created, rowsPerSheet: Self.maxRows)
    }

    /// Writes into `file` (closed by `finish()`).
    public convenience init(file: OutputFile, header: DatasetHeader, created: Date) throws(DossierError) {
        try self.init(file: file, header: header, created: created, rowsPerSheet: Self.maxRows)
    }

    convenience init(url: URL, header: DatasetHeader, created: Date, rowsPerSheet: Int) throws(DossierError) {
        try self.init(file: OutputFile(url: url), header: header, created: created, rowsPerSheet: rowsPerSheet)
    }

    init(file: OutputFile, header: DatasetHeader, created: Date, rowsPerSheet: Int) throws(DossierError) {
        url = file.url
        sink = Sink(file)
        self.rowsPerSheet = rowsPerSheet
        entryTime = Int(created.timeIntervalSince1970.rounded(.down))
        columns = Array(header.columns.prefix(Self.maxColumns))
        index = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        letters = columns.indices.map(Self.columnLetters)
        // A sheet's name: at most 31 characters, none of []:*?/\ (dataset ids never hold those).
        sheetName = String(header.dataset.prefix(24))
        guard let a = archive_write_new() else { throw DossierError(.internal, "libarchive could not start a writer") }
        archive = a
        // Sizes in the classic 32-bit fields (no Zip64 extra), the form every spreadsheet program reads.
        guard archive_write_set_format_zip(a) == ARCHIVE_OK, archive_write_set_options(a, "zip:!zip64") == ARCHIVE_OK else {
            archive_write_free(a)
            throw DossierError(.internal, "libarchive cannot write this spreadsheet's zip")
        }
        // Blocks are written whole but the last, as libarchive writes to a regular file: no padding.
        archive_write_set_bytes_in_last_block(a, 1)
        let write: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> la_ssize_t = { _, context, bytes, length in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            guard sink.error == nil else { return -1 }
            do throws(DossierError) { try sink.file.write(bytes: UnsafeRawBufferPointer(start: bytes, count: length)) } catch {
                sink.error = error
                return -1
            }
            return la_ssize_t(length)
        }
        guard archive_write_open(a, Unmanaged.passUnretained(sink).toOpaque(), nil, write, nil) == ARCHIVE_OK else {
            archive_write_free(a)
            throw DossierError(.outputWrite, "cannot create the spreadsheet", at: SourceLocation(file: url.path))
        }
        buffer.reserveCapacity(1 << 16)
        // The sheets a dataset needs are known from its count, so every part that names them comes
        // first and the sheets stream after them.
        let count = max(1, (header.count + rowsPerSheet - 2) / (rowsPerSheet - 1))
        declaredSheets = count
        let names = (1...count).map { $0 == 1 ? sheetName : "\(sheetName) (\($0))" }
        try part("[Content_Types].xml", Self.contentTypes(sheets: count))
        try part("_rels/.rels", Self.packageRelationships)
        try part("docProps/app.xml", Self.appProperties)
        try part("docProps/core.xml", Self.coreProperties(created: created))
        try part("xl/workbook.xml", Self.workbook(names))
        try part("xl/_rels/workbook.xml.rels", Self.workbookRelationships(sheets: count))
        try part("xl/styles.xml", Self.styles)
        try startSheet()
    }

    deinit {
        // A writer abandoned by an error still releases libarchive's state and the descriptor.
        if !closed { archive_write_free(archive) }
    }

    public func write(_ record: Record) throws(DossierError) {
        if row == rowsPerSheet {
            guard sheets < declaredSheets else {
                throw DossierError(.internal, "the dataset has more records than its header said", at: SourceLocation(file: url.path))
            }
            try endSheet()
            try startSheet()
        }
        var cells: [(Int, Value)] = []
        CSVDatasetWriter.leaves(record, prefix: "") { name, value in
            if let i = index[name] { cells.append((i, value)) }
        }
        row += 1
        let r = Array(String(row).utf8)
        buffer += Self.rowOpen; buffer += r; buffer += Self.tagEnd
        for (i, value) in cells.sorted(by: { $0.0 < $1.0 }) {
            switch value {
            case .null: continue
            case .bool(let b): cell(i, r, type: Self.boolType, value: b ? [UInt8(ascii: "1")] : [UInt8(ascii: "0")])
            case .number(let text):
                if Self.exactDouble(text) != nil { cell(i, r, type: [], value: Array(text.utf8)) } else { textCell(i, r, text) }
            case .string(let s): textCell(i, r, s)
            case .binary(let d): textCell(i, r, d.base64EncodedString())
            case .array, .object: textCell(i, r, value.jsonText())
            }
        }
        buffer += Self.rowClose
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func finish() throws(DossierError) {
        try endSheet()
        closed = true
        let ok = archive_write_close(archive) == ARCHIVE_OK
        let message = Self.message(archive)
        archive_write_free(archive)
        if let error = sink.error { throw error }
        guard ok else { throw DossierError(.outputWrite, "cannot write the spreadsheet (\(message))", at: SourceLocation(file: url.path)) }
        try sink.file.close()
    }

    // MARK: - Sheets

    private func startSheet() throws(DossierError) {
        sheets += 1
        try entry("xl/worksheets/sheet\(sheets).xml", compressed: true)
        buffer += Array(Self.sheetStart(selected: sheets == 1).utf8)
        row = 1
        buffer += Self.rowOpen; buffer += Self.one; buffer += Self.tagEnd
        let r = Self.one
        for (i, name) in columns.enumerated() {
            buffer += Self.cellOpen; buffer += letters[i]; buffer += r
            buffer += Self.boldInline
            Self.appendText(Self.fitted(name), to: &buffer)
            buffer += Self.inlineClose
        }
        buffer += Self.rowClose
    }

    private func endSheet() throws(DossierError) {
        buffer += Self.sheetEnd
        try flush()
        guard archive_write_finish_entry(archive) == ARCHIVE_OK else { throw writeError() }
    }

    /// `<c r="B7" t="…"><v>…</v></c>`
    private func cell(_ column: Int, _ r: [UInt8], type: [UInt8], value: [UInt8]) {
        buffer += Self.cellOpen; buffer += letters[column]; buffer += r; buffer += Self.quote
        buffer += type
        buffer += Self.valueOpen; buffer += value; buffer += Self.valueClose
    }

    /// `<c r="B7" t="inlineStr"><is><t>…</t></is></c>`
    private func textCell(_ column: Int, _ r: [UInt8], _ s: String) {
        buffer += Self.cellOpen; buffer += letters[column]; buffer += r
        buffer += Self.plainInline
        Self.appendText(Self.fitted(s), to: &buffer)
        buffer += Self.inlineClose
    }

    // MARK: - The zip

    private func part(_ name: String, _ text: String) throws(DossierError) {
        // The small fixed parts are stored: deflating a few hundred bytes costs more than it saves.
        let bytes = Array(text.utf8)
        try entry(name, compressed: false, size: bytes.count)
        buffer += bytes
        try flush()
        guard archive_write_finish_entry(archive) == ARCHIVE_OK else { throw writeError() }
    }

    private func entry(_ name: String, compressed: Bool, size: Int? = nil) throws(DossierError) {
        let method = compressed ? archive_write_zip_set_compression_deflate(archive) : archive_write_zip_set_compression_store(archive)
        guard method == ARCHIVE_OK, let entry = archive_entry_new() else { throw writeError() }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, name)
        if let size { archive_entry_set_size(entry, la_int64_t(size)) }
        archive_entry_set_filetype(entry, 0o100000) // AE_IFREG
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, entryTime, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw writeError() }
    }

    private func flush() throws(DossierError) {
        guard !buffer.isEmpty else { return }
        let written = buffer.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        guard written == buffer.count else { throw writeError() }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeError() -> DossierError {
        sink.error ?? DossierError(.outputWrite, "cannot write the spreadsheet (\(Self.message(archive)))", at: SourceLocation(file: url.path))
    }

    static func message(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }

    // MARK: - Cells

    /// `A`, `B`, … `Z`, `AA`, … for a 0-based column.
    static func columnLetters(_ column: Int) -> [UInt8] {
        var n = column + 1
        var out: [UInt8] = []
        while n > 0 {
            let d = (n - 1) % 26
            out.insert(UInt8(ascii: "A") + UInt8(d), at: 0)
            n = (n - 1) / 26
        }
        return out
    }

    /// The text as the content of `<t>`: `&`, `<` and `>` escaped; characters XML 1.0 cannot carry
    /// (C0 controls but tab and line feed, carriage return, which a reader would turn into a line
    /// feed, and U+FFFE, U+FFFF) as `_xHHHH_`; and the `_` of a text that reads as such an escape as
    /// `_x005F_`, so that it comes back as written.
    static func appendText(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                switch b {
                case UInt8(ascii: "&"): out += ampersand
                case UInt8(ascii: "<"): out += lessThan
                case UInt8(ascii: ">"): out += greaterThan
                case 0x09, 0x0A: out.append(b)
                case 0..<0x20: out += escape(UInt32(b))
                case UInt8(ascii: "_") where looksEscaped(bytes, at: i): out += escape(0x5F)
                case 0xEF where i + 2 < bytes.count && bytes[i + 1] == 0xBF && (bytes[i + 2] == 0xBE || bytes[i + 2] == 0xBF):
                    out += escape(bytes[i + 2] == 0xBE ? 0xFFFE : 0xFFFF)
                    i += 2
                default: out.append(b)
                }
                i += 1
            }
        }
    }

    private static let ampersand = Array("&amp;".utf8)
    private static let lessThan = Array("&lt;".utf8)
    private static let greaterThan = Array("&gt;".utf8)

    private static func escape(_ v: UInt32) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        return Array("_x".utf8) + [hex[Int(v >> 12 & 0xF)], hex[Int(v >> 8 & 0xF)], hex[Int(v >> 4 & 0xF)], hex[Int(v & 0xF)], UInt8(ascii: "_")]
    }

    /// `_xHHHH_` at `i`.
    private static func looksEscaped(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + 6 < bytes.count, bytes[i + 1] == UInt8(ascii: "x"), bytes[i + 6] == UInt8(ascii: "_") else { return false }
        return bytes[(i + 2)...(i + 5)].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }
    }

    /// The text, cut with `[…]` when a cell cannot hold it (NUL, which a cell cannot hold either, is
    /// replaced).
    static func fitted(_ text: String) -> String {
        // The NUL test on bytes: String.contains(String) goes through Foundation's locale-aware search.
        var s = text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
        if s.utf8.count > maxCharacters && s.unicodeScalars.count > maxCharacters {
            let keep = maxCharacters - cutMark.unicodeScalars.count
            s = String(String.UnicodeScalarView(s.unicodeScalars.prefix(keep))) + cutMark
        }
        return s
    }

    /// The number when a spreadsheet holds it exactly (at most 15 significant digits, finite).
    static func exactDouble(_ text: String) -> Double? {
        var digits = 0, leading = true
        for c in text.utf8 {
            if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { break }
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { continue }
            if leading && c == UInt8(ascii: "0") { continue }
            leading = false
            digits += 1
        }
        guard digits <= 15, let d = Double(text), d.isFinite else { return nil }
        return d
    }

    // MARK: - The parts

    private static let rowOpen = Array("<row r=\"".utf8)
    private static let tagEnd = Array("\">".utf8)
    private static let rowClose = Array("</row>".utf8)
    private static let cellOpen = Array("<c r=\"".utf8)
    private static let quote = Array("\"".utf8)
    private static let boolType = Array(" t=\"b\"".utf8)
    private static let valueOpen = Array("><v>".utf8)
    private static let valueClose = Array("</v></c>".utf8)
    private static let plainInline = Array("\" t=\"inlineStr\"><is><t xml:space=\"preserve\">".utf8)
    private static let boldInline = Array("\" s=\"1\" t=\"inlineStr\"><is><t xml:space=\"preserve\">".utf8)
    private static let inlineClose = Array("</t></is></c>".utf8)
    private static let one = Array("1".utf8)

    private static let declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    private static let mainNamespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    private static let relationshipNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    private static let packageNamespace = "http://schemas.openxmlformats.org/package/2006/relationships"

    static func sheetStart(selected: Bool) -> String {
        declaration + "<worksheet xmlns=\"\(mainNamespace)\" xmlns:r=\"\(relationshipNamespace)\">"
            + "<sheetViews><sheetView \(selected ? "tabSelected=\"1\" " : "")workbookViewId=\"0\">"
            + "<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/><selection pane=\"bottomLeft\"/>"
            + "</sheetView></sheetViews><sheetFormatPr defaultRowHeight=\"15\"/><sheetData>"
    }

    private static let sheetEnd = Array(("</sheetData><pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/></worksheet>\n").utf8)

    static func contentTypes(sheets: Int) -> String {
        declaration + "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
            + "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
            + "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
            + "<Override PartName=\"/docProps/app.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/>"
            + "<Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>"
            + "<Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>"
            + "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
            + (1...sheets).map { "<Override PartName=\"/xl/worksheets/sheet\($0).xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>" }.joined()
            + "</Types>\n"
    }

    static let packageRelationships = declaration + "<Relationships xmlns=\"\(packageNamespace)\">"
        + "<Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties\" Target=\"docProps/app.xml\"/>"
        + "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>"
        + "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>"
        + "</Relationships>\n"

    static let appProperties = declaration
        + "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\">"
        + "<Application>Dossier</Application></Properties>\n"

    static func coreProperties(created: Date) -> String {
        let time = created.utcTimestamp
        return declaration
            + "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
            + "<dcterms:created xsi:type=\"dcterms:W3CDTF\">\(time)</dcterms:created><dcterms:modified xsi:type=\"dcterms:W3CDTF\">\(time)</dcterms:modified>"
            + "</cp:coreProperties>\n"
    }

    static func workbook(_ names: [String]) -> String {
        var escapedNames: [String] = []
        for name in names {
            var bytes: [UInt8] = []
            appendText(name, to: &bytes)
            escapedNames.append(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"", with: "&quot;"))
        }
        return declaration + "<workbook xmlns=\"\(mainNamespace)\" xmlns:r=\"\(relationshipNamespace)\">"
            + "<bookViews><workbookView/></bookViews><sheets>"
            + escapedNames.enumerated().map { "<sheet name=\"\($1)\" sheetId=\"\($0 + 1)\" r:id=\"rId\($0 + 1)\"/>" }.joined()
            + "</sheets></workbook>\n"
    }

    static func workbookRelationships(sheets: Int) -> String {
        declaration + "<Relationships xmlns=\"\(packageNamespace)\">"
            + (1...sheets).map { "<Relationship Id=\"rId\($0)\" Type=\"\(relationshipNamespace)/worksheet\" Target=\"worksheets/sheet\($0).xml\"/>" }.joined()
            + "<Relationship Id=\"rId\(sheets + 1)\" Type=\"\(relationshipNamespace)/styles\" Target=\"styles.xml\"/>"
            + "</Relationships>\n"
    }

    /// Two cell formats: the default and the header's bold (with the two fills every reader expects).
    static let styles = declaration + "<styleSheet xmlns=\"\(mainNamespace)\">"
        + "<fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>"
        + "<font><b/><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font></fonts>"
        + "<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>"
        + "<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"
        + "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>"
        + "<cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>"
        + "<xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/></cellXfs>"
        + "<cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>"
        + "</styleSheet>\n"
}
