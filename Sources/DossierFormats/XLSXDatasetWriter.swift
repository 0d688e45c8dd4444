import CXLSXWriter
import DossierModel
import Foundation

/// `data/<source>/<dataset>.xlsx`: the CSV's table as a spreadsheet that LibreOffice and Excel open
/// with every letter right and without an import dialog, which no CSV variant achieves in
/// LibreOffice (its default import reads a CSV in an 8-bit charset, with or without a byte order
/// mark; UTF-16 fares no better). Written by libxlsxwriter in its constant-memory mode: each row goes
/// to a temporary file (unlinked at once) as it is written, so memory does not grow with the records.
///
/// The columns are the CSV's, with the same names in a bold first row that stays in view. Text stays
/// text (a cell beginning with `=` is not a formula), a JSON number that a spreadsheet can hold
/// exactly (15 significant digits) is a number, anything longer stays text, `true`/`false` are
/// booleans. What a spreadsheet cannot hold is said in the cell, never silently dropped: a value
/// longer than 32,767 characters is cut with `[…]` at its end, and records beyond 1,048,575 rows
/// continue on a further sheet; columns beyond the 16,384th are left out (the CSV, JSON and XML hold
/// everything). With `created` fixed, the same records give the same bytes.
public final class XLSXDatasetWriter: DatasetWriter {
    /// A spreadsheet's limits (Excel's, which LibreOffice shares).
    static let maxRows = Int(LXW_ROW_MAX)
    static let maxColumns = Int(LXW_COL_MAX)
    static let maxCharacters = 32_767
    static let cutMark = " […]"

    private let url: URL
    private let book: UnsafeMutablePointer<lxw_workbook>
    private let bold: UnsafeMutablePointer<lxw_format>?
    private let columns: [String]
    private let index: [String: Int]
    private let sheetName: String
    private var sheet: UnsafeMutablePointer<lxw_worksheet>?
    private var sheets = 0
    private var row = 0
    private var closed = false

    public init(url: URL, header: DatasetHeader, created: Date) throws(DossierError) {
        self.url = url
        // Created 0600 here, whatever the umask: libxlsxwriter's fopen then truncates it and keeps the mode.
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DossierError(.outputUnavailable, "cannot create the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
        }
        close(fd)
        var options = lxw_workbook_options(constant_memory: 1, tmpdir: nil, use_zip64: 0)
        guard let book = workbook_new_opt(url.path, &options) else {
            throw DossierError(.outputWrite, "cannot create the spreadsheet", at: SourceLocation(file: url.path))
        }
        self.book = book
        var properties = lxw_doc_properties()
        properties.created = time_t(created.timeIntervalSince1970)
        workbook_set_properties(book, &properties)
        bold = workbook_add_format(book)
        format_set_bold(bold)
        columns = Array(header.columns.prefix(Self.maxColumns))
        index = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        // A sheet's name: at most 31 characters, none of []:*?/\ (dataset ids never hold those).
        sheetName = String(header.dataset.prefix(24))
        try startSheet()
    }

    deinit {
        // A writer abandoned by an error still releases libxlsxwriter's memory and temporary file.
        if !closed { _ = workbook_close(book) }
    }

    private func startSheet() throws(DossierError) {
        sheets += 1
        let name = sheets == 1 ? sheetName : "\(sheetName) (\(sheets))"
        guard let sheet = workbook_add_worksheet(book, name) else {
            throw DossierError(.outputWrite, "cannot add a sheet to the spreadsheet", at: SourceLocation(file: url.path))
        }
        self.sheet = sheet
        for (i, name) in columns.enumerated() { try check(worksheet_write_string(sheet, 0, lxw_col_t(i), Self.fitted(name), bold)) }
        worksheet_freeze_panes(sheet, 1, 0)
        row = 1
    }

    public func write(_ record: Record) throws(DossierError) {
        if row == Self.maxRows { try startSheet() }
        var cells: [(Int, Value)] = []
        CSVDatasetWriter.leaves(record, prefix: "") { name, value in
            if let i = index[name] { cells.append((i, value)) }
        }
        let r = lxw_row_t(row)
        for (i, value) in cells.sorted(by: { $0.0 < $1.0 }) {
            let c = lxw_col_t(i)
            switch value {
            case .null: continue
            case .bool(let b): try check(worksheet_write_boolean(sheet, r, c, b ? 1 : 0, nil))
            case .number(let text):
                if let d = Self.exactDouble(text) { try check(worksheet_write_number(sheet, r, c, d, nil)) } else {
                    try check(worksheet_write_string(sheet, r, c, text, nil))
                }
            case .string(let s): try check(worksheet_write_string(sheet, r, c, Self.fitted(s), nil))
            case .binary(let d): try check(worksheet_write_string(sheet, r, c, Self.fitted(d.base64EncodedString()), nil))
            case .array, .object: try check(worksheet_write_string(sheet, r, c, Self.fitted(value.jsonText()), nil))
            }
        }
        row += 1
    }

    public func finish() throws(DossierError) {
        closed = true
        try check(workbook_close(book))
    }

    private func check(_ error: lxw_error) throws(DossierError) {
        guard error != LXW_NO_ERROR else { return }
        let reason = String(cString: lxw_strerror(error))
        throw DossierError(.outputWrite, "cannot write the spreadsheet (\(reason))", at: SourceLocation(file: url.path))
    }

    /// The text, cut with `[…]` when a cell cannot hold it (NUL, which a cell cannot hold either,
    /// ends a C string and is replaced).
    static func fitted(_ text: String) -> String {
        var s = text.contains("\u{0}") ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
        if s.unicodeScalars.count > maxCharacters {
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
}
