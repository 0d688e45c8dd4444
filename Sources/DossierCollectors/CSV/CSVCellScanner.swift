import DossierModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The rows of a CSV file as `CSVRowReader` reads them (the same cells, lines, byte ranges and
/// failures), for index builds: a row's cells are found and checked as UTF-8 in place, in a buffer
/// that holds the whole row, and only the cells asked for become strings.
///
/// Written by hand for speed: `CSVRowReader` reads a byte at a time through a class's buffer and
/// makes every cell a string, which kept a CSV index build near 20 MB/s. The rules are those of
/// `CSVRowReader.nextRow` (its comment): a quote opens a quoted cell only as the cell's first byte;
/// a doubled quote inside is one quote; text after the closing quote is appended to the cell; a row
/// ends at LF, CR LF, CR or the end of the file; a line break inside quotes counts a line (LF only,
/// as there); a UTF-8 byte order mark at the start is skipped. `CSVScannerTests` compares the two
/// readers on tricky inputs.
final class CSVCellScanner {
    typealias Failure = CSVRowReader.Failure

    private let fd: Int32
    private let delimiter: UInt8
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes of the file in `buffer`, and the next one to read.
    private var count = 0
    private var position = 0
    /// The offset in the file of `buffer[0]`.
    private var bufferOffset: UInt64 = 0
    private var atEnd = false
    private var started = false
    /// The cells of the row last read: where each is in `buffer`; a plain cell is exactly
    /// `buffer[start..<end]`, another (doubled quotes, text after the closing quote) starts at its
    /// opening quote and is decoded when asked for.
    private var cells: [(start: Int, end: Int, plain: Bool)] = []
    private var scratch: [UInt8] = []

    /// The line the next byte is on (1-based), the line the row last read started on, and its bytes.
    private(set) var line = 1
    private(set) var rowLine = 1
    private(set) var rowOffset: UInt64 = 0
    var offset: UInt64 { bufferOffset + UInt64(position) }

    init(url: URL, delimiter: UInt8) throws {
        fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CocoaError(.fileReadNoPermission) }
        self.delimiter = delimiter
        capacity = 1 << 18
        buffer = .allocate(capacity: capacity)
    }

    /// Scans bytes already in memory (tests).
    init(bytes: [UInt8], delimiter: UInt8) {
        fd = -1
        self.delimiter = delimiter
        capacity = max(bytes.count, 1)
        buffer = .allocate(capacity: capacity)
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { buffer.update(from: base, count: b.count) }
        }
        count = bytes.count
        atEnd = true
    }

    deinit {
        if fd >= 0 { close(fd) }
        buffer.deallocate()
    }

    /// Drops the bytes before `position`, then reads more; false at the end of the file.
    private func refill() throws(Failure) -> Bool {
        guard !atEnd else { return false }
        if position > 0 {
            memmove(buffer, buffer + position, count - position)
            count -= position
            bufferOffset += UInt64(position)
            position = 0
        }
        if count == capacity {
            // One row fills the buffer: it is held whole, up to the longest cell allowed.
            guard capacity <= CSVRowReader.maxCell else { throw .cellTooLong(line: rowLine) }
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            bigger.update(from: buffer, count: count)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
        while true {
            let n = read(fd, buffer + count, capacity - count)
            if n > 0 { count += n; return true }
            if n == 0 { atEnd = true; return false }
            if errno != EINTR { throw .unreadable }
        }
    }

    /// Reads the next row: its number of cells, or nil at the end of the file.
    func nextRow() throws(Failure) -> Int? {
        if !started {
            started = true
            while count < 3, try refill() {}
            if count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
        }
        while true {
            if position == count, try !refill() { return nil }
            if try scan() { return cells.count }
            _ = try refill()   // the row goes on past the buffered bytes
        }
    }

    /// Scans one row from `position`; false when the buffered bytes end inside it (nothing is kept
    /// then: the row is scanned again from its start with more bytes).
    private func scan() throws(Failure) -> Bool {
        let p = buffer, end = count, delimiter = self.delimiter
        var i = position
        var ln = line
        cells.removeAll(keepingCapacity: true)
        while true {
            let cell: (start: Int, end: Int, plain: Bool)
            if i < end, p[i] == 0x22 {
                let open = i
                let quoteLine = ln
                var plain = true
                i += 1
                while true {
                    if i == end {
                        if !atEnd { return false }
                        // As CSVRowReader: the cells before are checked (and fail) first.
                        rowLine = line
                        try checkCells()
                        throw .unterminatedQuote(line: quoteLine)
                    }
                    let b = p[i]
                    if b == 0x22 {
                        if i + 1 == end, !atEnd { return false }
                        if i + 1 < end, p[i + 1] == 0x22 { plain = false; i += 2; continue }
                        break
                    }
                    if b == 0x0A { ln += 1 }
                    i += 1
                }
                let close = i
                i += 1
                let rest = i
                while i < end, p[i] != delimiter, p[i] != 0x0A, p[i] != 0x0D { i += 1 }
                if i != rest { plain = false }
                cell = plain ? (open + 1, close, true) : (open, i, false)
            } else {
                let start = i
                while i < end, p[i] != delimiter, p[i] != 0x0A, p[i] != 0x0D { i += 1 }
                cell = (start, i, true)
            }
            if i == end {
                if !atEnd { return false }
                cells.append(cell)
                break
            }
            let b = p[i]
            cells.append(cell)
            if b == delimiter { i += 1; continue }
            if b == 0x0D {
                if i + 1 == end, !atEnd { return false }
                i += i + 1 < end && p[i + 1] == 0x0A ? 2 : 1
            } else {
                i += 1
            }
            ln += 1
            break
        }
        rowLine = line
        rowOffset = bufferOffset + UInt64(position)
        try checkCells()
        position = i
        line = ln
        return true
    }

    /// Every cell of the row is UTF-8, or the row fails as `CSVRowReader` fails it.
    private func checkCells() throws(Failure) {
        for k in cells.indices {
            let c = cells[k]
            let valid: Bool
            if c.plain {
                valid = UTF8Check.valid(UnsafePointer(buffer), c.start, c.end)
            } else {
                decode(k)
                valid = scratch.withUnsafeBufferPointer { $0.isEmpty || UTF8Check.valid($0.baseAddress!, 0, $0.count) }
            }
            if !valid { throw .invalidUTF8(line: rowLine) }
        }
    }

    /// Cell `k` of a cell that is not plain, into `scratch`.
    private func decode(_ k: Int) {
        let c = cells[k]
        scratch.removeAll(keepingCapacity: true)
        var i = c.start + 1   // past the opening quote
        while true {
            let b = buffer[i]
            if b == 0x22 {
                // The closing quote is the one not followed by another (see `scan`).
                if i + 1 < c.end, buffer[i + 1] == 0x22 { scratch.append(0x22); i += 2; continue }
                i += 1
                break
            }
            scratch.append(b)
            i += 1
        }
        scratch.append(contentsOf: UnsafeBufferPointer(start: buffer + i, count: c.end - i))
    }

    /// Cell `k` of the row last read.
    func cell(_ k: Int) -> String {
        let c = cells[k]
        if c.plain { return String(decoding: UnsafeBufferPointer(start: buffer + c.start, count: c.end - c.start), as: UTF8.self) }
        decode(k)
        return String(decoding: scratch, as: UTF8.self)
    }

    /// True when cell `k` of the row last read is empty.
    func cellIsEmpty(_ k: Int) -> Bool {
        let c = cells[k]
        if c.plain { return c.start == c.end }
        decode(k)
        return scratch.isEmpty
    }
}
