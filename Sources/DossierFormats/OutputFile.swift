import DossierModel
import Foundation

/// A file written through a 64 KiB buffer, created with mode 0600. Write errors become
/// `DossierError(.outputWrite)` naming the file. Bundle and staging files are transient (the archive
/// made of them is what must survive a crash, and `ArchiveWriter` syncs it), so only a `durable` file
/// is synced to disk when it is closed.
public final class OutputFile {
    public let url: URL
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var closed = false
    private let durable: Bool

    public init(url: URL, durable: Bool = false) throws(DossierError) {
        self.url = url
        self.durable = durable
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DossierError(.outputUnavailable, "cannot create the file (\(String(cString: strerror(errno))))", at: SourceLocation(file: url.path))
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        buffer.reserveCapacity(1 << 16)
    }

    public func write(_ text: String) throws(DossierError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func write(bytes: [UInt8]) throws(DossierError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func flush() throws(DossierError) {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: buffer) } catch {
            throw DossierError(.outputWrite, "cannot write the file (\(error.localizedDescription))", at: SourceLocation(file: url.path))
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws(DossierError) {
        guard !closed else { return }
        try flush()
        closed = true
        do {
            if durable { try handle.synchronize() }
            try handle.close()
        } catch {
            throw DossierError(.outputWrite, "cannot finish the file (\(error.localizedDescription))", at: SourceLocation(file: url.path))
        }
    }
}
