import DossierModel
import Foundation

/// `data/<source>/<dataset>.csv`: RFC 4180 (CRLF, quotes doubled), UTF-8, optionally with a BOM.
///
/// Nested objects become dotted columns (`billing.city`), lists their JSON text, binaries base64,
/// null an empty cell. A cell that begins with `=`, `+`, `-`, `@`, tab or carriage return is
/// prefixed with `'` so that a spreadsheet does not run it, unless the whole cell is a number
/// (`-12.50` and `+48221228617` stay numbers).
public final class CSVDatasetWriter: DatasetWriter {
    private let file: OutputFile
    private let columns: [String]

    public convenience init(url: URL, header: DatasetHeader, byteOrderMark: Bool = false) throws(DossierError) {
        try self.init(file: OutputFile(url: url), header: header, byteOrderMark: byteOrderMark)
    }

    /// Writes into `file` (closed by `finish()`).
    public init(file: OutputFile, header: DatasetHeader, byteOrderMark: Bool = false) throws(DossierError) {
        self.file = file
        columns = header.columns
        if byteOrderMark { try file.write(bytes: [0xEF, 0xBB, 0xBF]) }
        for (i, column) in columns.enumerated() {
            if i > 0 { line.append(UInt8(ascii: ",")) }
            Self.appendCell(column, neutralising: false, to: &line)
        }
        line += [0x0D, 0x0A]
        try file.write(bytes: line)
    }

    private var line: [UInt8] = []

    public func write(_ record: Record) throws(DossierError) {
        var cells: [String: String] = [:]
        Self.flatten(record, prefix: "") { cells[$0] = $1 }
        line.removeAll(keepingCapacity: true)
        for (i, column) in columns.enumerated() {
            if i > 0 { line.append(UInt8(ascii: ",")) }
            if let cell = cells[column] { Self.appendCell(cell, to: &line) }
        }
        line += [0x0D, 0x0A]
        try file.write(bytes: line)
    }

    public func finish() throws(DossierError) { try file.close() }

    /// The column names of a record, nested fields dotted, in the record's order.
    public static func columns(of record: Record) -> [String] {
        var names: [String] = []
        flatten(record, prefix: "") { name, _ in names.append(name) }
        return names
    }

    /// Calls `body` with each leaf's dotted name and its cell text.
    public static func flatten(_ fields: Fields, prefix: String, _ body: (String, String) -> Void) {
        leaves(fields, prefix: prefix) { column, value in
            switch value {
            case .object: body(column, "{}")
            case .null: body(column, "")
            case .bool(let b): body(column, b ? "true" : "false")
            case .number(let n): body(column, n)
            case .string(let s): body(column, s)
            case .binary(let d): body(column, d.base64EncodedString())
            case .array: body(column, value.jsonText())
            }
        }
    }

    /// Calls `body` with each leaf's dotted name and its value: nested objects are walked into (an
    /// empty one is a leaf), everything else is a leaf. The columns of the CSV and the spreadsheet.
    public static func leaves(_ fields: Fields, prefix: String, _ body: (String, Value) -> Void) {
        for (name, value) in fields {
            let column = prefix.isEmpty ? name : "\(prefix).\(name)"
            if case .object(let nested) = value, !nested.isEmpty { leaves(nested, prefix: column, body) } else { body(column, value) }
        }
    }

    /// The cell with a leading `'` when a spreadsheet would otherwise read it as a formula.
    public static func neutralised(_ cell: String) -> String {
        guard let first = cell.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) else { return cell }
        if isNumber(cell) { return cell }
        return "'" + cell
    }

    /// `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`, the whole cell (read byte by byte: a
    /// regular expression here cost ICU's matcher on every such cell; and, unlike ICU's `$`, a final
    /// line break is not allowed before the end).
    static func isNumber(_ cell: String) -> Bool {
        var cell = cell
        return cell.withUTF8 { isNumber($0) }
    }

    static func isNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        func digits() -> Int {
            let start = i
            while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            return i - start
        }
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
        let whole = digits()
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            if digits() == 0 && whole == 0 { return false }
        } else if whole == 0 {
            return false
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            if digits() == 0 { return false }
        }
        return i == b.count
    }

    /// The cell as the file holds it: neutralised (unless asked not to), and quoted when it holds a
    /// comma, a quote or a line break, its quotes doubled.
    public static func quoted(_ cell: String, neutralising: Bool = false) -> String {
        var out: [UInt8] = []
        appendCell(cell, neutralising: neutralising, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the cell as `quoted` writes it, byte by byte: a comma, quote or line break is found
    /// also where a combining mark follows it (one `Character` to Swift, a separator to every CSV reader).
    static func appendCell(_ cell: String, neutralising: Bool = true, to out: inout [UInt8]) {
        var cell = cell
        cell.withUTF8 { bytes in
            let prefix = neutralising && !bytes.isEmpty && [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D].contains(bytes[0])
                && !isNumber(bytes)
            let quote = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
            if quote { out.append(UInt8(ascii: "\"")) }
            if prefix { out.append(UInt8(ascii: "'")) }
            if quote {
                var run = 0
                for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\"") {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...i]))
                    out.append(UInt8(ascii: "\""))
                    run = i + 1
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
                out.append(UInt8(ascii: "\""))
            } else {
                out.append(contentsOf: bytes)
            }
        }
    }
}
