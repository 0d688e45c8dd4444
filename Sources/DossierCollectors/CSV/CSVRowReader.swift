import DossierModel
import Foundation

/// A streaming RFC 4180 reader over bytes: quoted fields with doubled quotes, embedded delimiters and
/// line breaks, CRLF or LF line ends, and the exact line where each row starts. Like Python's `csv`
/// module it is lenient where exports commonly are: a quote inside an unquoted cell is kept as it is
/// (`=HYPERLINK("…")`), and text after a closing quote is appended to the cell.
///
/// Written here instead of using yaslab/CSV.swift for two measured reasons: CSV.swift decodes one
/// Unicode scalar at a time through type-erased iterators and read 71 MiB of Mailchimp export at
/// 7.6 MB/s in a release build (this reader does it several times faster), and on Linux it reports the
/// end of a file stream as a read error. It also cannot say on which line a malformed row starts.
public final class CSVRowReader {
    public enum Failure: Error {
        /// The file ends inside a quoted field that began on `line`.
        case unterminatedQuote(line: Int)
        case invalidUTF8(line: Int)
        /// A cell longer than `maxCell`, in the row that starts on `line`.
        case cellTooLong(line: Int)
        case unreadable
    }

    /// The longest cell read: 256 MiB (a cell is held whole while its row is read).
    public static let maxCell = 256 << 20

    private let handle: FileHandle?
    private let delimiter: UInt8
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// The offset in the file of `buffer[0]`.
    private var bufferOffset: UInt64 = 0
    /// The byte offset in the file where the row last returned starts, and where it ends (after its line end).
    private(set) var rowOffset: UInt64 = 0
    var offset: UInt64 { bufferOffset + UInt64(position) }
    /// The line the next byte is on (1-based).
    public private(set) var line = 1
    /// The line the row last returned started on.
    public private(set) var rowLine = 1

    public init(url: URL, delimiter: UInt8) throws {
        handle = try FileHandle(forReadingFrom: url)
        self.delimiter = delimiter
    }

    /// Reads rows out of bytes already in memory (one record read back through a lookup index).
    init(bytes: [UInt8], delimiter: UInt8) {
        handle = nil
        self.delimiter = delimiter
        buffer = bytes
        atEnd = true
    }

    deinit { try? handle?.close() }

    private func fill() throws(Failure) -> Bool {
        guard !atEnd, let handle else { return false }
        let chunk: Data
        do { chunk = try handle.read(upToCount: 1 << 16) ?? Data() } catch { throw .unreadable }
        if chunk.isEmpty { atEnd = true; return false }
        bufferOffset += UInt64(buffer.count)
        buffer = Array(chunk)
        position = 0
        return true
    }

    /// The next byte, or nil at the end of the file.
    @inline(__always) private func next() throws(Failure) -> UInt8? {
        if position == buffer.count, try !fill() { return nil }
        let b = buffer[position]
        position += 1
        return b
    }

    @inline(__always) private func peek() throws(Failure) -> UInt8? {
        if position == buffer.count, try !fill() { return nil }
        return buffer[position]
    }

    /// The next row's fields, or nil at the end of the file. A UTF-8 byte order mark at the start is skipped.
    public func nextRow() throws(Failure) -> [String]? {
        if line == 1, position == 0, bufferOffset == 0 {
            if buffer.isEmpty, try !fill() { return nil }
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        }
        guard try peek() != nil else { return nil }
        rowLine = line
        rowOffset = offset
        var fields: [String] = []
        var field: [UInt8] = []
        field.reserveCapacity(64)
        func finish() throws(Failure) {
            // The same check as String(validating:as: UTF8.self), which here ran through unspecialised
            // generic code (a fifth of an index build's time): Unicode's rules, then no second check.
            let valid = field.withUnsafeBufferPointer { b in b.isEmpty || UTF8Check.valid(b.baseAddress!, 0, b.count) }
            guard valid else { throw .invalidUTF8(line: rowLine) }
            let s = String(decoding: field, as: UTF8.self)
            fields.append(s)
            // A huge cell's buffer is given back rather than kept for the rows after it.
            if field.capacity > 1 << 20 { field = [] } else { field.removeAll(keepingCapacity: true) }
        }
        while true {
            // The start of a field.
            if try peek() == 0x22 {
                _ = try next()
                let quoteLine = line
                quoted: while true {
                    guard let b = try next() else { throw .unterminatedQuote(line: quoteLine) }
                    if b == 0x22 {
                        if try peek() == 0x22 { _ = try next(); field.append(0x22); continue }
                        break quoted
                    }
                    if b == 0x0A { line += 1 }
                    field.append(b)
                    if field.count > Self.maxCell { throw .cellTooLong(line: rowLine) }
                }
                // After the closing quote comes a delimiter, a line end or the end of the file; any other
                // text is read on as part of the cell, unquoted.
            }
            while true {
                guard let b = try next() else { try finish(); return fields }
                if b == delimiter { try finish(); break }
                if b == 0x0A { line += 1; try finish(); return fields }
                if b == 0x0D {
                    if try peek() == 0x0A { _ = try next() }
                    line += 1; try finish(); return fields
                }
                field.append(b)
                if field.count > Self.maxCell { throw .cellTooLong(line: rowLine) }
            }
        }
    }
}
