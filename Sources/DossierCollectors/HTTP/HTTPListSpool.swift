import DossierModel
import Foundation

/// The datasets of an HTTP source whose API cannot filter by the identifier (`list:` instead of a
/// lookup path): each is read once per run, page by page, into a private JSON Lines file, and a
/// lookup index is built over it in the same way as over any JSON Lines source; every lookup of the
/// run then reads through that index. The API is asked once per run, never once per person, and
/// no list is held in memory. The files and the index are deleted when the run closes the source.
final class HTTPListSpool: Collector {
    let http: HTTPCollector
    let spool: FileCollector<JSONLinesFormat>
    /// The listed datasets as the spool reads them (the map's, with `path` set to their file), by id.
    let datasets: [String: Dataset]
    let folder: URL
    let scratch: Scratch.Token

    private init(http: HTTPCollector, spool: FileCollector<JSONLinesFormat>, datasets: [String: Dataset], folder: URL, scratch: Scratch.Token) {
        self.http = http; self.spool = spool; self.datasets = datasets; self.folder = folder; self.scratch = scratch
    }

    /// Reads every listed dataset of `http`'s source, then indexes what was read.
    static func open(_ http: HTTPCollector, in context: CollectorContext) async throws(DossierError) -> HTTPListSpool {
        let source = http.source
        let (folder, scratch) = Scratch.temporaryURL("dossier-http")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            Scratch.release(scratch)
            throw DossierError(.outputUnavailable, "source '\(source.id)': cannot create a private folder for the lists it reads",
                               at: SourceLocation(file: folder.path))
        }
        do throws(DossierError) {
            var listed: [Dataset] = []
            for var dataset in source.datasets {
                guard let list = dataset.options["list"] else { continue }
                let file = folder.appendingPathComponent("\(listed.count).jsonl")
                try await write(http, dataset: dataset, from: http.base.absoluteString + list, to: file)
                dataset.path = file.path
                listed.append(dataset)
            }
            let spooled = Source(id: source.id, title: source.title, description: source.description, kind: JSONLinesKind.name,
                                 path: nil, options: [:], datasets: listed, location: source.location)
            let indexed = CollectorContext(map: context.map, normalizer: context.normalizer, indexes: .build(folder),
                                           concurrency: context.concurrency)
            let spool = try FileCollector(source: spooled, context: indexed, format: JSONLinesFormat())
            return HTTPListSpool(http: http, spool: spool, datasets: Dictionary(uniqueKeysWithValues: listed.map { ($0.id, $0) }),
                                 folder: folder, scratch: scratch)
        } catch {
            try? FileManager.default.removeItem(at: folder)
            Scratch.release(scratch)
            throw error
        }
    }

    /// Every page of the list, each record one line of `file` (mode 0600), written as it arrives.
    static func write(_ http: HTTPCollector, dataset: Dataset, from first: String, to file: URL) async throws(DossierError) {
        guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: file.path) else {
            throw DossierError(.outputWrite, "source '\(http.source.id)': cannot write the list of dataset '\(dataset.id)'",
                               at: SourceLocation(file: file.path))
        }
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        func flush() throws(DossierError) {
            do { try handle.write(contentsOf: buffer) } catch {
                throw DossierError(.outputWrite, "source '\(http.source.id)': cannot write the list of dataset '\(dataset.id)'",
                                   at: SourceLocation(file: file.path))
            }
            buffer.removeAll(keepingCapacity: true)
        }
        try await http.read(dataset: dataset, first: first, body: nil) { record throws(DossierError) in
            buffer += Value.object(record).jsonText().utf8
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
    }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        if let listed = datasets[dataset.id] {
            try await spool.find(in: listed, identifiers: identifiers, found: found)
        } else {
            try await http.find(in: dataset, identifiers: identifiers, found: found)
        }
    }

    func check(_ dataset: Dataset) async throws(DossierError) -> [String] {
        if let listed = datasets[dataset.id] { return try await spool.check(listed) }
        return try await http.check(dataset)
    }

    func close() async {
        await spool.close()
        await http.close()
        try? FileManager.default.removeItem(at: folder)
        Scratch.release(scratch)
    }
}
