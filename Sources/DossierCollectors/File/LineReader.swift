import DossierModel
import Foundation

/// Reads a file line by line in 64 KiB chunks; memory stays bounded by the longest line, and a line
/// longer than `maxLine` is an error (`LineTooLong`) rather than a run that takes all memory.
final class LineReader {
    /// The longest line read: 256 MiB.
    static let maxLine = 256 << 20
    struct LineTooLong: Error {}

    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the next line end goes on: everything before it holds none.
    private var searched = 0
    private var atEnd = false
    /// Bytes of the file dropped from the front of `buffer` so far.
    private var dropped: UInt64 = 0
    private(set) var lineNumber = 0
    /// The byte offset in the file of the line last returned, and its length with its line end.
    private(set) var lineOffset: UInt64 = 0
    private(set) var lineLength = 0

    init(url: URL) throws {
        handle = try FileHandle(forReadingFrom: url)
    }

    deinit { try? handle.close() }

    /// The index in `buffer` of the first line feed at or after `from`. memchr, because the
    /// generic `firstIndex(of:)` on a slice was a tenth of a JSON Lines index build.
    private func newline(from: Int) -> Int? {
        buffer.withUnsafeBufferPointer { b -> Int? in
            guard from < b.count, let base = b.baseAddress, let hit = memchr(base + from, 0x0A, b.count - from) else { return nil }
            return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
        }
    }

    /// The next line without its line end (`\n` or `\r\n`), or nil at the end of the file.
    func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let nl = newline(from: max(start, searched)) {
                var end = nl
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[start..<end]
                lineOffset = dropped + UInt64(start)
                lineLength = nl + 1 - start
                start = nl + 1
                searched = start
                lineNumber += 1
                return line
            }
            searched = buffer.count
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                lineOffset = dropped + UInt64(start)
                lineLength = buffer.count - start
                start = buffer.count
                searched = start
                lineNumber += 1
                return line
            }
            if start > 0 {
                buffer.removeFirst(start); dropped += UInt64(start)
                searched -= start; start = 0
            }
            guard buffer.count <= Self.maxLine else { throw LineTooLong() }
            // A long line is read in ever larger chunks: fewer, larger appends.
            let chunk = try handle.read(upToCount: max(1 << 16, min(buffer.count, 1 << 24))) ?? Data()
            if chunk.isEmpty { atEnd = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}
