import Crypto
import DossierFormats
import DossierModel
import Foundation

/// One file of the bundle, as the manifest and the checksums list it, with its contents.
struct BundleFile {
    let path: String
    let sha256: String
    let bytes: Int
    let records: Int?
    /// The file as written (in memory or staged on disk).
    let contents: OutputFile
    var manifestEntry: Value {
        var f = Fields([("path", .string(path)), ("sha256", .string(sha256)), ("bytes", .number(String(bytes)))])
        if let records { f.append("records", .number(String(records))) }
        return .object(f)
    }

    /// A closed file described by its SHA-256 and size.
    init(path: String, contents: OutputFile, records: Int? = nil) throws(DossierError) {
        var hasher = SHA256()
        try contents.forEachChunk { bytes throws(DossierError) in hasher.update(bufferPointer: bytes) }
        self.path = path
        sha256 = Hex.string(hasher.finalize())
        bytes = contents.size
        self.records = records
        self.contents = contents
    }

    /// A file on disk described by its SHA-256 and size (an archive written).
    static func digest(of url: URL) throws(DossierError) -> (sha256: String, size: Int) {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DossierError(.outputWrite, "cannot read back a written file", at: SourceLocation(file: url.path))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size = 0
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 16) ?? Data() } catch {
                throw DossierError(.outputWrite, "cannot read back a written file", at: SourceLocation(file: url.path))
            }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
            size += chunk.count
        }
        return (Hex.string(hasher.finalize()), size)
    }
}

/// Step 4 of the flow: writes the bundle's files (the data of every dataset, the manifest, the
/// checksums), each described by its SHA-256, size and record count. The files are kept in memory
/// while the export's staging budget lasts, and staged under `bundle` beyond it.
struct BundleAssembler {
    let map: DataMap
    /// The folder that becomes the bundle, when it is kept unpacked; the files' paths are in it.
    let bundle: URL
    /// The export's private staging: its folder and its memory budget.
    let staging: Staging

    /// A new file of the bundle at `path`.
    func create(_ path: String) throws(DossierError) -> OutputFile {
        try OutputFile(url: bundle.appendingPathComponent(path), staging: staging)
    }

    /// The data files of every dataset that holds records, the manifest's entry of every dataset, and
    /// which identifier found which record: streamed to a staging file, one entry a match, so that a
    /// person with a million records does not hold a million entries in memory.
    func writeData(_ stores: DatasetStores, csvBOM: Bool, asOf: Date) throws(DossierError)
        -> (files: [BundleFile], datasetEntries: [Value], matches: OutputFile?) {
        var files: [BundleFile] = []
        var datasetEntries: [Value] = []
        let matches = try OutputFile(url: staging.folder.appendingPathComponent("matches.part"), staging: staging)
        var matchCount = 0
        for store in stores.all {
            var paths: [Value] = []
            if store.count > 0 {
                let written = try writeDataset(store, csvBOM: csvBOM, asOf: asOf)
                files.append(contentsOf: written)
                paths = written.map { .string($0.path) }
                try store.forEachMatch { identifier, round, position throws(DossierError) in
                    let line = Value.object(Fields([
                        ("source", .string(store.source.id)), ("dataset", .string(store.dataset.id)),
                        ("record", .number(String(position))),
                        ("identifier", .object(Fields([("kind", .string(identifier.kind.name)), ("value", .string(identifier.value))]))),
                        ("round", .number(String(round))),
                    ])).jsonText()
                    try matches.write((matchCount == 0 ? "    " : ",\n    ") + line)
                    matchCount += 1
                }
            }
            datasetEntries.append(.object(Fields([
                ("source", .string(store.source.id)), ("dataset", .string(store.dataset.id)),
                ("count", .number(String(store.count))), ("files", .array(paths)),
            ] + (store.excluded.map { [("excluded", Value.string($0))] } ?? []))))
        }
        try matches.close()
        return (files, datasetEntries, matchCount > 0 ? matches : nil)
    }

    /// SHA-256 over the kind and the data files' paths and hashes: what the person's data is, with no
    /// time or id in it, so that two bundles of unchanged data have the same fingerprint. The
    /// spreadsheets are left out: they repeat the CSV's table and carry the bundle's time.
    static func fingerprint(kind: RequestKind, files: [BundleFile]) -> String {
        let lines = ["kind:\(kind.rawValue)"] + files.filter { !$0.path.hasSuffix(".xlsx") }
            .sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            .map { "\($0.path)\u{0}\($0.sha256)" }
        return Hex.string(SHA256.hash(data: Data(lines.joined(separator: "\n").utf8)))
    }

    /// The manifest without its `matches` list (`writeManifest` streams that in).
    func manifestHead(request: ExportRequest, given: [Identifier], stores: DatasetStores, resolution: Resolution,
                      datasets: [Value], files: [BundleFile], fingerprint: String) -> Value {
        var found: [Identifier: Int] = [:]
        for store in stores.all { found.merge(store.recordsFound, uniquingKeysWith: +) }
        var head: [(String, Value)] = [
            ("schema_version", .number(String(bundleSchemaVersion))),
            ("tool", .object(Fields([("name", .string(Exporter.toolName)), ("version", .string(Exporter.toolVersion))]))),
            ("request_id", .string(request.requestID)),
            ("kind", .string(request.kind.rawValue)),
            ("generated_at", .string(request.asOf.utcTimestamp)),
            ("delivery", .bool(request.isDelivery)),
            ("copy", request.copy.map { .number(String($0)) } ?? .null),
        ]
        if let day = request.expiresOn { head.append(("expires_on", .string(day.description))) }
        if let r = request.redactions {
            head.append(("withheld_at_review", .object(Fields([
                ("fields", .array(r.fields.map { .string($0) })), ("reason", .string(r.reason)),
                ("marker", .string(Redaction.reviewMarker)),
            ]))))
        }
        let rest: [(String, Value)] = [
            ("fingerprint", .string(fingerprint)),
            ("note", .string(request.isDelivery ? "A copy delivered under the request named above."
                                                : "An ad-hoc export made with 'dossier export', outside the ledger: not a delivery.")),
            ("has_data", .bool(stores.hasData)),
            ("identifiers", .object(Fields([
                ("given", .array(given.map { .object(Fields([("kind", .string($0.kind.name)), ("value", .string($0.value))])) })),
                // Identifiers that found at least one record: with the round that revealed them (0: given)
                // and the dataset whose record revealed them.
                ("matched", .array(resolution.identifiers.compactMap { item in
                    guard let records = found[item.identifier] else { return nil }
                    var f = Fields([("kind", .string(item.identifier.kind.name)), ("value", .string(item.identifier.value)),
                                    ("round", .number(String(item.round)))])
                    if let from = item.from { f.append("from", .string(from)) }
                    f.append("records", .number(String(records)))
                    return .object(f)
                })),
            ]))),
            ("resolution", .object(Fields([
                ("rounds", .number(String(resolution.rounds))), ("max_rounds", .number(String(map.maxRounds))),
                ("capped", .bool(resolution.capped)),
            ]))),
            ("datasets", .array(datasets)),
            ("files", .array(files.map(\.manifestEntry))),
        ]
        return .object(Fields(head + rest))
    }

    /// Packs the files, the top-level ones first (manifest, information, index, checksums), then the data
    /// by path, into one archive or into parts; returns every archive written, in order.

    /// `manifest.json`: the object, then its `matches` list copied from the staging file.
    func writeManifest(_ manifest: Value, matches: OutputFile?) throws(DossierError) -> BundleFile {
        let file = try create("manifest.json")
        var head = manifest.prettyJSONText()
        guard head.hasSuffix("\n}\n") else { throw DossierError(.internal, "the manifest is not an object") }
        head.removeLast(3)
        try file.write(head + ",\n  \"matches\": [")
        if let matches {
            try file.write("\n")
            try matches.forEachChunk { bytes throws(DossierError) in try file.write(bytes: bytes) }
            try file.write("\n  ")
        }
        try file.write("]\n}\n")
        try file.close()
        return try BundleFile(path: "manifest.json", contents: file)
    }

    /// The dataset's four files: JSON, CSV, XML and a spreadsheet (`asOf` is its creation time, so
    /// that the same records give the same bytes).
    func writeDataset(_ store: DatasetStore, csvBOM: Bool, asOf: Date) throws(DossierError) -> [BundleFile] {
        let folder = "data/\(store.source.id)"
        let header = DatasetHeader(source: store.source.id, dataset: store.dataset.id, count: store.count, columns: store.columns)
        let base = "\(folder)/\(store.dataset.id)"
        let json = try create(base + ".json"), csv = try create(base + ".csv")
        let xml = try create(base + ".xml"), xlsx = try create(base + ".xlsx")
        let writers: [any DatasetWriter] = [
            try JSONDatasetWriter(file: json, header: header),
            try CSVDatasetWriter(file: csv, header: header, byteOrderMark: csvBOM),
            try XMLDatasetWriter(file: xml, header: header),
            try XLSXDatasetWriter(file: xlsx, header: header, created: asOf),
        ]
        try store.forEachRecord { record throws(DossierError) in
            for w in writers { try w.write(record) }
        }
        for w in writers { try w.finish() }
        var files: [BundleFile] = []
        for (ext, file) in [("csv", csv), ("json", json), ("xml", xml), ("xlsx", xlsx)] {
            files.append(try BundleFile(path: base + "." + ext, contents: file, records: store.count))
        }
        return files
    }

    func writeJSON(_ value: Value, to path: String, records: Int? = nil) throws(DossierError) -> BundleFile {
        try writeText(value.prettyJSONText(), to: path, records: records)
    }

    func writeText(_ text: String, to path: String, records: Int? = nil) throws(DossierError) -> BundleFile {
        let file = try create(path)
        try file.write(text)
        try file.close()
        return try BundleFile(path: path, contents: file, records: records)
    }
}
