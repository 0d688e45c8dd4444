import DossierModel
import Foundation
import Glibc

/// The private folder an export stages its files in, and the memory it may keep them in instead.
///
/// A file created with a `Staging` stays in memory while the export's budget lasts and moves to its
/// path in the folder (created, a level at a time, when the first file needs it) once the budget
/// is spent: a bundle of a few hundred kilobytes never touches the disk, and a bundle of a million
/// records takes at most `memoryBudget` bytes of memory (each buffer's growth counted). One
/// export's staging is used by that export alone.
///
/// ```swift
/// let staging = Staging(folder: out.appendingPathComponent(".dossier-staging-R-1"), memoryBudget: 4 << 20)
/// let file = try OutputFile(url: staging.folder.appendingPathComponent("bundle/index.html"), staging: staging)
/// try file.write("<!doctype html>")
/// try file.close()
/// try file.forEachChunk { bytes throws(DossierError) in hasher.update(bufferPointer: bytes) }
/// ```
public final class Staging: @unchecked Sendable {
    /// The folder; it must exist before the first file spills into it.
    public let folder: URL
    /// The budget left; locked, as the stores of one export's concurrent lookups share it.
    private var remaining: Int
    private let lock = NSLock()

    /// The default budget: 1 MiB an export, what the bundle of a person with some hundreds of
    /// records takes; a bundle beyond it spills what does not fit, so that an export's memory is the
    /// same for every person (the bench's person with 1,000 records spills a third of its 1.3 MB).
    public static let defaultMemoryBudget = 1 << 20

    public init(folder: URL, memoryBudget: Int = Staging.defaultMemoryBudget) {
        self.folder = folder
        remaining = memoryBudget
    }

    /// Takes `bytes` of the budget, or nothing when fewer remain.
    func take(_ bytes: Int) -> Bool {
        lock.withLock {
            guard bytes <= remaining else { return false }
            remaining -= bytes
            return true
        }
    }

    /// Takes up to `bytes` of the budget: what remains when fewer do.
    func take(upTo bytes: Int) -> Int {
        lock.withLock {
            let granted = max(0, min(bytes, remaining))
            remaining -= granted
            return granted
        }
    }

    func give(_ bytes: Int) { lock.withLock { remaining += bytes } }

    /// Creates the folders between `folder` (which must exist) and `url`, one level at a time, never
    /// `folder` itself: a staging folder removed meanwhile (a signal) stays removed.
    func prepare(_ url: URL) throws(DossierError) {
        let base = folder.standardizedFileURL.path
        var levels: [String] = []
        var dir = url.deletingLastPathComponent().standardizedFileURL
        while dir.path.count > base.count, dir.path.hasPrefix(base + "/") {
            levels.append(dir.path)
            dir = dir.deletingLastPathComponent()
        }
        for level in levels.reversed() where mkdir(level, 0o700) != 0 && errno != EEXIST {
            throw DossierError(.outputWrite, "cannot create a staging folder", at: SourceLocation(file: level))
        }
    }
}

/// A file written through a 64 KiB buffer, created with mode 0600. Write errors become
/// `DossierError(.outputWrite)` naming the file. Bundle and staging files are transient (the archive
/// made of them is what must survive a crash, and `ArchiveWriter` syncs it), so only a `durable` file
/// is synced to disk when it is closed.
///
/// A file given a `Staging` is kept in memory while the staging's budget lasts, and is created on
/// disk only when the budget is spent (or `materialize()` asks for it); it is read back with
/// `forEachChunk` or `read(at:count:)` either way.
public final class OutputFile {
    public let url: URL
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var closed = false
    private let durable: Bool
    private let staging: Staging?
    /// True while every byte written is in `buffer` (a staged file that has not spilled).
    private var inMemory: Bool
    /// The budget this file holds while in memory.
    private var taken = 0
    /// Bytes written so far.
    public private(set) var size = 0

    public init(url: URL, durable: Bool = false, staging: Staging? = nil) throws(DossierError) {
        self.url = url
        self.durable = durable
        self.staging = staging
        inMemory = staging != nil
        if let staging {
            // The buffer's capacity is what counts against the budget, not the bytes in it.
            taken = staging.take(upTo: 1 << 12)
            buffer.reserveCapacity(taken)
        } else {
            try openFile()
            buffer.reserveCapacity(1 << 16)
        }
    }

    deinit {
        if fd >= 0 { _ = closeDescriptor(fd) }
        if taken > 0 { staging?.give(taken) }
    }

    private func openFile() throws(DossierError) {
        let fd = open(url.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DossierError(.outputUnavailable, "cannot create the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
        }
        self.fd = fd
    }

    public func write(_ text: String) throws(DossierError) {
        var text = text
        var failure: DossierError?
        text.withUTF8 { bytes in
            do throws(DossierError) { try write(bytes: UnsafeRawBufferPointer(bytes)) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func write(bytes: [UInt8]) throws(DossierError) {
        var failure: DossierError?
        bytes.withUnsafeBytes { raw in
            do throws(DossierError) { try write(bytes: raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func write(bytes: UnsafeRawBufferPointer) throws(DossierError) {
        precondition(!closed, "a closed file is not written to")
        if inMemory, buffer.count + bytes.count > taken { try grow(to: buffer.count + bytes.count) }
        buffer.append(contentsOf: bytes)
        size += bytes.count
        if !inMemory && buffer.count >= 1 << 16 { try flush() }
    }

    /// Makes room for `needed` bytes in memory, twice the buffer's capacity when the budget allows
    /// (what remains of it otherwise), or moves the file to disk: the buffer's capacity never
    /// exceeds what it took of the budget.
    private func grow(to needed: Int) throws(DossierError) {
        let granted = staging?.take(upTo: max(needed, 2 * taken) - taken) ?? 0
        if taken + granted >= needed {
            taken += granted
            buffer.reserveCapacity(taken)
            return
        }
        staging?.give(granted)
        try spill()
    }

    /// Moves an in-memory file to its path.
    private func spill() throws(DossierError) {
        guard inMemory else { return }
        try staging?.prepare(url)
        try openFile()
        inMemory = false
        try flush()
        if buffer.capacity > 1 << 17 { buffer = [] ; buffer.reserveCapacity(1 << 16) }
        staging?.give(taken)
        taken = 0
    }

    public func flush() throws(DossierError) {
        guard !inMemory, !buffer.isEmpty else { return }
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw DossierError(.outputWrite, "cannot write the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered and closes the descriptor; a file kept in memory stays there.
    public func close() throws(DossierError) {
        guard !closed else { return }
        closed = true
        if inMemory { return }
        try flush()
        // A closed file is read back from disk: its buffer (64–128 KiB) would wait in memory, one
        // for each of a bundle's files, until the archive is written.
        buffer = []
        if durable, fsync(fd) != 0 {
            throw DossierError(.outputWrite, "cannot finish the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
        }
        let rc = closeDescriptor(fd)
        fd = -1
        if rc != 0 {
            throw DossierError(.outputWrite, "cannot finish the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
        }
    }

    /// Puts a closed file kept in memory at its path (its folders created), as every other file is.
    public func materialize() throws(DossierError) {
        precondition(closed, "only a closed file is materialised")
        guard inMemory else { return }
        try spill()
        let rc = closeDescriptor(fd)
        fd = -1
        if rc != 0 {
            throw DossierError(.outputWrite, "cannot finish the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
        }
    }

    /// The bytes at `offset`, written earlier (a record read back by a store while it still writes).
    public func read(at offset: Int, count: Int) throws(DossierError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset + count <= size, "a read within what was written")
        if inMemory { return Array(buffer[offset ..< offset + count]) }
        try flush()
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        let fd = self.fd >= 0 ? self.fd : open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DossierError(.outputWrite, "cannot read back a staged file", at: SourceLocation(file: url.path)) }
        defer { if fd != self.fd { _ = closeDescriptor(fd) } }
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DossierError(.outputWrite, "cannot read back a staged file", at: SourceLocation(file: url.path)) }
            done += n
        }
        return bytes
    }

    /// Hands every byte written, in order, in pieces of at most 64 KiB (all at once when in memory).
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) throws(DossierError) -> Void) throws(DossierError) {
        if inMemory {
            var failure: DossierError?
            buffer.withUnsafeBytes { raw in
                do throws(DossierError) { try body(raw) } catch { failure = error }
            }
            if let failure { throw failure }
            return
        }
        try flush()
        let fd = self.fd >= 0 ? self.fd : open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DossierError(.outputWrite, "cannot read back a staged file", at: SourceLocation(file: url.path)) }
        defer { if fd != self.fd { _ = closeDescriptor(fd) } }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset = 0
        while offset < size {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, min($0.count, size - offset), off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DossierError(.outputWrite, "cannot read back a staged file", at: SourceLocation(file: url.path)) }
            var failure: DossierError?
            chunk.withUnsafeBytes { raw in
                do throws(DossierError) { try body(UnsafeRawBufferPointer(rebasing: raw[..<n])) } catch { failure = error }
            }
            if let failure { throw failure }
            offset += n
        }
    }
}

/// `close(2)`, out of reach of `OutputFile.close()`'s name.
private func closeDescriptor(_ fd: Int32) -> Int32 { Glibc.close(fd) }
