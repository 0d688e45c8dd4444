import DossierArchive
import DossierModel
import Foundation

/// Step 5 of the flow: packs the bundle's files with libarchive into one archive or into parts that
/// each open on their own, under temporary names, published (renamed) when the request asks.
struct Packer {
    let request: ExportRequest

    /// Packs the files, the top-level ones first (manifest, information, index, checksums), then the data
    /// by path, into one archive or into parts; returns every archive written, in order.
    func pack(_ all: [BundleFile]) throws(DossierError) -> [FinishedArchive] {
        let topOrder = ["manifest.json", "information.json", "index.html", "SHA256SUMS"]
        let ordered = topOrder.compactMap { name in all.first { $0.path == name } }
            + all.filter { !topOrder.contains($0.path) }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        let groups = Self.split(ordered, size: request.splitSize)
        let ext = request.format.fileExtension
        let base = request.archiveName.map { name in
            name.hasSuffix("." + ext) ? String(name.dropLast(ext.count + 1)) : name
        } ?? "dossier-\(request.requestID)"
        var parts: [FinishedArchive] = []
        for (index, group) in groups.enumerated() {
            let name = groups.count == 1 ? "\(base).\(ext)" : "\(base).part\(index + 1).\(ext)"
            let writer = try ArchiveWriter(destination: request.outputDirectory.appendingPathComponent(name), format: request.format,
                                           entryDate: request.asOf, passphrase: request.passphrase)
            for file in group {
                try writer.add(file.path, size: file.bytes) { write throws(DossierError) in try file.contents.forEachChunk(write) }
            }
            let finished = try writer.close()
            if request.publish { try finished.publish() }
            parts.append(finished)
        }
        return parts
    }

    /// Groups files into parts of at most `size` bytes of file content, in order; a file larger than
    /// `size` stands alone. The top-level files stay together in the first part.
    static func split(_ files: [BundleFile], size: Int?) -> [[BundleFile]] {
        guard let size else { return [files] }
        var groups: [[BundleFile]] = [[]]
        var used = 0
        for file in files {
            let topLevel = !file.path.contains("/")
            if !topLevel, !groups[groups.count - 1].isEmpty, used + file.bytes > size {
                groups.append([])
                used = 0
            }
            groups[groups.count - 1].append(file)
            used += file.bytes
        }
        return groups
    }
}
