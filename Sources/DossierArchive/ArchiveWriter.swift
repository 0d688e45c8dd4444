import CArchive
import DossierModel
import Foundation

/// The archive formats Dossier writes.
public enum ArchiveFormat: String, Sendable, CaseIterable {
    case zip
    case tarGz = "tar.gz"
    case tarZst = "tar.zst"

    /// The file name extension, without the dot.
    public var fileExtension: String { rawValue }
}

/// Streams files into a zip or tar.gz archive with libarchive.
///
/// The archive is written under a temporary name (`.<name>.partial`) with mode 0600, and renamed to
/// its final name only by `finish()`; a run that fails or is killed leaves no half archive under the
/// final name. Entries get a fixed time, owner 0 and mode 0644, so the same files in the same order
/// give the same bytes. With a passphrase, a zip is encrypted with AES-256 (its salt is random, so
/// encrypted archives are never byte-identical).
///
/// ```swift
/// let writer = try ArchiveWriter(destination: out, format: .zip, entryDate: asOf)
/// try writer.add(file: staged, as: "manifest.json")
/// let path = try writer.finish()
/// ```
public final class ArchiveWriter {
    public let destination: URL
    private let temporary: URL
    private let archive: OpaquePointer
    private let entryTime: Int
    private var finished = false
    /// The temporary file's registration, so that a signal that stops the process removes it.
    private let scratch: Scratch.Token

    public init(destination: URL, format: ArchiveFormat, entryDate: Date, passphrase: String? = nil) throws(DossierError) {
        self.destination = destination
        temporary = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).partial")
        entryTime = Int(entryDate.timeIntervalSince1970.rounded(.down))
        guard let a = archive_write_new() else { throw DossierError(.internal, "libarchive could not start a writer") }
        archive = a
        var ok: Int32
        switch format {
        case .zip:
            ok = archive_write_set_format_zip(a)
        case .tarGz:
            ok = archive_write_set_format_pax_restricted(a)
            if ok == ARCHIVE_OK { ok = archive_write_add_filter_gzip(a) }
            if ok == ARCHIVE_OK { ok = archive_write_set_options(a, "gzip:!timestamp") }
        case .tarZst:
            ok = archive_write_set_format_pax_restricted(a)
            if ok == ARCHIVE_OK { ok = archive_write_add_filter_zstd(a) }
        }
        if let passphrase, ok == ARCHIVE_OK {
            guard format == .zip else {
                archive_write_free(a)
                throw DossierError(.usage, "only zip archives can be encrypted")
            }
            ok = archive_write_set_options(a, "zip:encryption=aes256")
            if ok == ARCHIVE_OK { ok = archive_write_set_passphrase(a, passphrase) }
        }
        guard ok == ARCHIVE_OK else { archive_write_free(a); throw DossierError(.internal, "libarchive: \(Self.message(a))") }
        unlink(temporary.path)
        scratch = Scratch.register(temporary)
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            archive_write_free(a)
            Scratch.release(scratch)
            throw DossierError(.outputUnavailable, "cannot create the archive (\(String(cString: strerror(errno))))",
                               at: SourceLocation(file: destination.path))
        }
        guard archive_write_open_fd(a, fd) == ARCHIVE_OK else {
            _ = closeDescriptor(fd)
            archive_write_free(a)
            unlink(temporary.path)
            Scratch.release(scratch)
            throw DossierError(.outputUnavailable, "cannot open the archive for writing", at: SourceLocation(file: destination.path))
        }
        self.fd = fd
    }

    private var fd: Int32 = -1

    deinit {
        if !finished {
            archive_write_free(archive)
            if fd >= 0 { _ = closeDescriptor(fd) }
            unlink(temporary.path)
            Scratch.release(scratch)
        }
    }

    static func message(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }

    private func writeError(_ what: String) -> DossierError {
        DossierError(.outputWrite, "\(what): \(Self.message(archive))", at: SourceLocation(file: destination.path))
    }

    /// Adds the file at `file` as entry `name`, streamed in 64 KiB blocks.
    public func add(file: URL, as name: String) throws(DossierError) {
        var info = stat()
        guard stat(file.path, &info) == 0 else {
            throw DossierError(.outputWrite, "a staged bundle file disappeared", at: SourceLocation(file: file.path))
        }
        guard let input = FileHandle(forReadingAtPath: file.path) else {
            throw DossierError(.outputWrite, "cannot read a staged bundle file", at: SourceLocation(file: file.path))
        }
        defer { try? input.close() }
        try add(name, size: Int(info.st_size)) { write throws(DossierError) in
            while true {
                let chunk: Data
                do { chunk = try input.read(upToCount: 1 << 16) ?? Data() } catch {
                    throw DossierError(.outputWrite, "cannot read a staged bundle file", at: SourceLocation(file: file.path))
                }
                if chunk.isEmpty { break }
                var failure: DossierError?
                chunk.withUnsafeBytes { raw in
                    do throws(DossierError) { try write(raw) } catch { failure = error }
                }
                if let failure { throw failure }
            }
        }
    }

    /// Adds an entry `name` of `size` bytes, which `contents` hands to the `write` it is given, in
    /// order and in pieces of any size.
    ///
    /// ```swift
    /// try writer.add("hello.txt", size: 6) { write in try Array("hello\n".utf8).withUnsafeBytes { try write($0) } }
    /// ```
    public func add(_ name: String, size: Int,
                    contents: ((UnsafeRawBufferPointer) throws(DossierError) -> Void) throws(DossierError) -> Void) throws(DossierError) {
        precondition(!name.hasPrefix("/") && !name.split(separator: "/").contains(".."), "entry names are relative and cannot escape")
        guard let entry = archive_entry_new() else { throw DossierError(.internal, "libarchive could not create an entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, name)
        archive_entry_set_size(entry, la_int64_t(size))
        archive_entry_set_filetype(entry, 0o100000) // AE_IFREG: the macro does not import into Swift
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, entryTime, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw writeError("cannot write the entry header for \(name)") }
        var written = 0
        try contents { bytes throws(DossierError) in
            guard !bytes.isEmpty else { return }
            // libarchive takes at most what the entry's size leaves: a piece beyond it would be cut silently.
            guard written + bytes.count <= size,
                  archive_write_data(archive, bytes.baseAddress, bytes.count) == bytes.count else {
                throw writeError("cannot write \(name) into the archive")
            }
            written += bytes.count
        }
        guard written == size else { throw writeError("cannot write \(name) into the archive: \(written) of its \(size) bytes came") }
        guard archive_write_finish_entry(archive) == ARCHIVE_OK else { throw writeError("cannot finish \(name)") }
    }

    /// Closes the archive, flushes it to disk and renames it to its final name. Returns that path.
    public func finish() throws(DossierError) -> URL {
        let finished = try close()
        try finished.publish()
        return finished.destination
    }

    /// Closes the archive and flushes it to disk under its temporary name; `publish()` renames it.
    /// For a caller that must make the rename part of another commit (a delivery row).
    public func close() throws(DossierError) -> FinishedArchive {
        guard archive_write_close(archive) == ARCHIVE_OK else { throw writeError("cannot close the archive") }
        archive_write_free(archive)
        finished = true
        defer { fd = -1 }
        guard fsync(fd) == 0, closeDescriptor(fd) == 0 else {
            unlink(temporary.path)
            Scratch.release(scratch)
            throw DossierError(.outputWrite, "cannot flush the archive to disk", at: SourceLocation(file: destination.path))
        }
        return FinishedArchive(temporary: temporary, destination: destination, scratch: scratch)
    }
}

/// A complete archive still under its temporary name.
public struct FinishedArchive: Sendable {
    public let temporary: URL
    public let destination: URL
    let scratch: Scratch.Token

    /// Renames the archive to its final name (atomic within the folder).
    public func publish() throws(DossierError) {
        defer { Scratch.release(scratch) }
        guard rename(temporary.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw DossierError(.outputWrite, "cannot rename the finished archive (\(reason))", at: SourceLocation(file: destination.path))
        }
    }

    /// Deletes the archive unpublished.
    public func discard() {
        unlink(temporary.path)
        Scratch.release(scratch)
    }
}

/// `close(2)`, out of reach of `ArchiveWriter.close()`'s name.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
