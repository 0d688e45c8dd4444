import Crypto
import DossierArchive
import DossierCollectors
import DossierFormats
import DossierIdentity
import DossierMap
import DossierModel
import DossierReport
import Foundation
import Logging

/// What to export, for whom, and where.
public struct ExportRequest: Sendable {
    /// The identifiers as given: kind and raw text.
    public var identifiers: [(kind: IdentifierKind, text: String)]
    public var format: ArchiveFormat
    public var outputDirectory: URL
    public var requestID: String
    /// The time the bundle speaks for; also every archive entry's time.
    public var asOf: Date
    public var language: String?
    /// False for `dossier export` (an ad-hoc run outside the ledger).
    public var isDelivery: Bool
    /// Access exports everything (third-party fields withheld); portability only portable fields.
    public var kind: RequestKind = .access
    /// The copy number, for deliveries.
    public var copy: Int?
    /// The archive's file name; default `dossier-<request id>.<ext>`.
    public var archiveName: String?
    /// False to assemble the bundle and compute its fingerprint without writing an archive.
    public var pack = true
    /// Encrypts the zip with AES-256 under this passphrase.
    public var passphrase: String?
    /// Splits the bundle into archives that each open on their own, each holding at most this many
    /// bytes of files (a larger file gets a part of its own).
    public var splitSize: Int?
    /// Starts every CSV with a UTF-8 byte order mark, for spreadsheet programs that need one.
    public var csvBOM = false
    /// False to leave the finished archives under their temporary names (`ExportResult.unpublished`),
    /// for a caller that renames them as part of its own commit.
    public var publish = true

    public init(identifiers: [(kind: IdentifierKind, text: String)], format: ArchiveFormat = .zip,
                outputDirectory: URL, requestID: String, asOf: Date, language: String? = nil, isDelivery: Bool = false,
                kind: RequestKind = .access) {
        self.identifiers = identifiers; self.format = format; self.outputDirectory = outputDirectory
        self.requestID = requestID; self.asOf = asOf; self.language = language; self.isDelivery = isDelivery
        self.kind = kind
    }

    /// True when `id` can name a request (and so an archive): letters, digits, `.`, `_`, `-`; no leading dot.
    public static func isValidRequestID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 100 && !id.hasPrefix(".")
            && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}

/// The outcome of an export.
public struct ExportResult: Sendable {
    /// The archive written (the first part when split); nil when the request asked not to pack.
    public var archive: URL? { parts.first }
    /// Every archive written, in order: one, or the parts of a split bundle.
    public let parts: [URL]
    /// The archives still under their temporary names when the request asked not to publish them.
    public var unpublished: [FinishedArchive] = []
    public let archiveSHA256: String?
    public let archiveSize: Int?
    /// SHA-256 over the data files' paths and hashes: what the person's data is, without times or ids.
    public let fingerprint: String
    public let requestID: String
    /// Records per `source/dataset`, zero counts included.
    public let counts: [(dataset: String, count: Int)]
    public let rounds: Int
    public let capped: Bool
    public var hasData: Bool { counts.contains { $0.count > 0 } }
}

/// Runs the flow of DESIGN.md for one request: resolve identity, collect, redact, assemble, pack.
///
/// ```swift
/// let map = try DataMapLoader().load(file: "Samples/dossier.yaml")
/// let result = try Exporter(map: map).export(ExportRequest(
///     identifiers: [(.email, "zofia.wisniewska@example.pl")], outputDirectory: out,
///     requestID: "R-1", asOf: Date()))
/// print(result.archive.path)
/// ```
public struct Exporter: Sendable {
    public static let toolName = "dossier"
    public static let toolVersion = "0.1.0"

    public let map: DataMap
    public let logger: Logger
    let normalizer: StandardNormalizer

    public init(map: DataMap, logger: Logger = Logger(label: "dossier")) {
        self.map = map
        self.logger = logger
        normalizer = StandardNormalizer(defaultRegion: map.controller.defaultRegion)
    }

    /// Normalises and checks identifiers given by a person; a malformed one is a usage error.
    public func normalizedIdentifiers(_ given: [(kind: IdentifierKind, text: String)]) throws(DossierError) -> [Identifier] {
        guard !given.isEmpty else {
            throw DossierError(.usage, "give at least one identifier of the person: --email, --phone or --id KIND=VALUE")
        }
        var result: [Identifier] = []
        for (kind, text) in given {
            guard let value = normalizer.validated(text, as: kind) else {
                let what = kind == .email ? "an e-mail address" : kind == .phone ? "a phone number (region \(map.controller.defaultRegion))" : "a non-empty \(kind.name)"
                throw DossierError(.usage, "the \(kind.name) identifier given is not \(what)")
            }
            let id = Identifier(kind: kind, value: value)
            if !result.contains(id) { result.append(id) }
        }
        return result
    }

    /// Opens every source and checks every dataset. Returns, per dataset, the fields the map does not describe.
    public func validateSources() throws(DossierError) -> [(dataset: String, undescribed: [String])] {
        for language in map.controller.languages where !Translations.available.contains(language) {
            throw DossierError(.dataMap, "the bundle's texts exist in \(Translations.available.joined(separator: " and ")), not in '\(language)': add Sources/DossierReport/Resources/translations/\(language).json or remove the language",
                               at: SourceLocation(file: map.file, key: "controller.languages"))
        }
        let context = CollectorContext(map: map, normalizer: normalizer)
        var notes: [(String, [String])] = []
        for source in map.sources {
            let collector = try CollectorRegistry.open(source, in: context)
            for dataset in source.datasets {
                let names = try collector.check(dataset)
                let undescribed = names.filter { name in
                    !dataset.describes(fieldNamed: name)
                }
                notes.append(("\(source.id)/\(dataset.id)", undescribed))
            }
        }
        return notes
    }

    public func export(_ request: ExportRequest) throws(DossierError) -> ExportResult {
        guard ExportRequest.isValidRequestID(request.requestID) else {
            throw DossierError(.usage, "the request id may hold only letters, digits, '.', '_' and '-' (and not start with a dot)")
        }
        let given = try normalizedIdentifiers(request.identifiers)
        let texts = try Translations(language: request.language ?? map.controller.languages.first ?? "en")
        var log = logger
        log[metadataKey: "request"] = "\(request.requestID)"

        let out = request.outputDirectory
        do { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true) } catch {
            throw DossierError(.outputUnavailable, "cannot create the output folder", at: SourceLocation(file: out.path))
        }
        let staging = out.appendingPathComponent(".dossier-staging-\(request.requestID)-\(UUID().uuidString.prefix(8))")
        let bundle = staging.appendingPathComponent("bundle")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try FileManager.default.createDirectory(at: bundle, withIntermediateDirectories: false)
        } catch {
            throw DossierError(.outputUnavailable, "cannot create a staging folder in the output folder", at: SourceLocation(file: out.path))
        }
        defer { try? FileManager.default.removeItem(at: staging) }

        let (stores, resolution) = try collect(given: given, kind: request.kind, staging: staging)
        log.info("collected", metadata: ["records": "\(stores.reduce(0) { $0 + $1.count })", "rounds": "\(resolution.rounds)"])
        let data = try writeData(stores, into: bundle, staging: staging, csvBOM: request.csvBOM)
        let fingerprint = Self.fingerprint(kind: request.kind, files: data.files)
        let counts = stores.map { (dataset: "\($0.source.id)/\($0.dataset.id)", count: $0.count) }
        guard request.pack else {
            return ExportResult(parts: [], archiveSHA256: nil, archiveSize: nil, fingerprint: fingerprint, requestID: request.requestID,
                                counts: counts, rounds: resolution.rounds, capped: resolution.capped)
        }

        var files = data.files
        let informationBuilder = InformationBuilder(map: map, t: texts, kind: request.kind)
        let information = informationBuilder.build(stores: stores)
        files.append(try writeJSON(information, to: "information.json", in: bundle, records: nil))
        let page = try IndexPageBuilder(map: map, t: texts).render(
            information: information, stores: stores, files: files.map { ($0.path, $0.bytes) }, request: request,
            summary: informationBuilder.summary(stores))
        files.append(try writeText(page, to: "index.html", in: bundle))
        let manifest = manifestHead(request: request, given: given, stores: stores, resolution: resolution,
                                    datasets: data.datasetEntries, files: files, fingerprint: fingerprint)
        let manifestFile = try writeManifest(manifest, matches: data.matches, in: bundle)

        // Checksums: every file of the bundle but the checksum file itself, as `sha256sum -c` reads them.
        let sums = ([manifestFile] + files).sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            .map { "\($0.sha256)  \($0.path)\n" }.joined()
        let sumsFile = try writeText(sums, to: "SHA256SUMS", in: bundle)

        let archives = try pack([manifestFile, sumsFile] + files, from: bundle, request: request)
        let first = request.publish ? archives[0].destination : archives[0].temporary
        let described = try describe(first.lastPathComponent, in: out, records: nil)
        log.info("archive written", metadata: ["format": "\(request.format.rawValue)", "parts": "\(archives.count)"])
        var result = ExportResult(parts: archives.map(\.destination), archiveSHA256: described.sha256, archiveSize: described.bytes,
                                  fingerprint: fingerprint, requestID: request.requestID, counts: counts,
                                  rounds: resolution.rounds, capped: resolution.capped)
        if !request.publish { result.unpublished = archives }
        return result
    }

    /// Opens every source and runs the rounds of identity resolution into one store per dataset.
    func collect(given: [Identifier], kind: RequestKind, staging: URL) throws(DossierError) -> ([DatasetStore], Resolution) {
        let context = CollectorContext(map: map, normalizer: normalizer)
        var collectors: [(Source, any Collector)] = []
        for source in map.sources { collectors.append((source, try CollectorRegistry.open(source, in: context))) }
        var stores: [DatasetStore] = []
        for source in map.sources {
            for dataset in source.datasets {
                let store = DatasetStore(source: source, dataset: dataset, staging: staging, index: stores.count)
                if kind == .portability {
                    store.excluded = Portability.exclusion(of: dataset, in: map)
                    store.transform = { Portability.filter($0, in: dataset) }
                }
                stores.append(store)
            }
        }
        let resolution = try resolve(given: given, collectors: collectors, stores: stores)
        for store in stores { try store.close() }
        return (stores, resolution)
    }

    /// The data files of every dataset that holds records, the manifest's entry of every dataset, and
    /// which identifier found which record: streamed to a staging file, one entry a match, so that a
    /// person with a million records does not hold a million entries in memory.
    func writeData(_ stores: [DatasetStore], into bundle: URL, staging: URL, csvBOM: Bool) throws(DossierError)
        -> (files: [BundleFile], datasetEntries: [Value], matches: URL?) {
        var files: [BundleFile] = []
        var datasetEntries: [Value] = []
        let matchesURL = staging.appendingPathComponent("matches.part")
        let matches = try OutputFile(url: matchesURL)
        var matchCount = 0
        for store in stores {
            var paths: [Value] = []
            if store.count > 0 {
                let written = try writeDataset(store, into: bundle, csvBOM: csvBOM)
                files.append(contentsOf: written.files)
                paths = written.files.map { .string($0.path) }
                for (entry, identifier, round) in store.matches {
                    let line = Value.object(Fields([
                        ("source", .string(store.source.id)), ("dataset", .string(store.dataset.id)),
                        ("record", .number(String(written.position[entry]))),
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
        return (files, datasetEntries, matchCount > 0 ? matchesURL : nil)
    }

    /// SHA-256 over the kind and the data files' paths and hashes: what the person's data is, with no
    /// time or id in it, so that two bundles of unchanged data have the same fingerprint.
    static func fingerprint(kind: RequestKind, files: [BundleFile]) -> String {
        let lines = ["kind:\(kind.rawValue)"] + files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            .map { "\($0.path)\u{0}\($0.sha256)" }
        return SHA256.hash(data: Data(lines.joined(separator: "\n").utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The manifest without its `matches` list (`writeManifest` streams that in).
    func manifestHead(request: ExportRequest, given: [Identifier], stores: [DatasetStore], resolution: Resolution,
                      datasets: [Value], files: [BundleFile], fingerprint: String) -> Value {
        var found: [Identifier: Int] = [:]
        for store in stores { for match in store.matches { found[match.identifier, default: 0] += 1 } }
        return .object(Fields([
            ("schema_version", .number(String(bundleSchemaVersion))),
            ("tool", .object(Fields([("name", .string(Self.toolName)), ("version", .string(Self.toolVersion))]))),
            ("request_id", .string(request.requestID)),
            ("kind", .string(request.kind.rawValue)),
            ("generated_at", .string(request.asOf.utcTimestamp)),
            ("delivery", .bool(request.isDelivery)),
            ("copy", request.copy.map { .number(String($0)) } ?? .null),
            ("fingerprint", .string(fingerprint)),
            ("note", .string(request.isDelivery ? "A copy delivered under the request named above."
                                                : "An ad-hoc export made with 'dossier export', outside the ledger: not a delivery.")),
            ("has_data", .bool(stores.contains { $0.count > 0 })),
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
        ]))
    }

    /// Packs the files, the top-level ones first (manifest, information, index, checksums), then the data
    /// by path, into one archive or into parts; returns every archive written, in order.
    func pack(_ all: [BundleFile], from bundle: URL, request: ExportRequest) throws(DossierError) -> [FinishedArchive] {
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
            for file in group { try writer.add(file: bundle.appendingPathComponent(file.path), as: file.path) }
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

    // MARK: Resolution

    struct Resolution {
        var identifiers: [(identifier: Identifier, round: Int, from: String?)]
        var rounds: Int
        var capped: Bool
    }

    /// Runs rounds to a fixed point: identifiers found in round r are looked up in round r + 1.
    func resolve(given: [Identifier], collectors: [(Source, any Collector)], stores: [DatasetStore]) throws(DossierError) -> Resolution {
        var known = Set(given)
        var listed: [(identifier: Identifier, round: Int, from: String?)] = given.map { ($0, 0, nil) }
        var pending = given
        var round = 0
        while !pending.isEmpty && round < map.maxRounds {
            round += 1
            var discovered: [Identifier] = []
            var storeIndex = 0
            for (source, collector) in collectors {
                for dataset in source.datasets {
                    let store = stores[storeIndex]
                    storeIndex += 1
                    let kinds = Set(dataset.lookups.map(\.kind))
                    let wanted = pending.filter { kinds.contains($0.kind) }
                    guard !wanted.isEmpty else { continue }
                    let thisRound = round
                    try collector.find(in: dataset, identifiers: wanted) { record, identifier throws(DossierError) in
                        if store.excluded == nil { try store.add(record, foundBy: identifier, round: thisRound) }
                        for y in dataset.yields {
                            for path in y.paths {
                                guard let value = record.value(at: path) else { continue }
                                for text in value.scalarTexts {
                                    guard let n = normalizer.normalize(text, as: y.kind) else { continue }
                                    let id = Identifier(kind: y.kind, value: n)
                                    if known.insert(id).inserted {
                                        discovered.append(id)
                                        listed.append((id, thisRound, "\(source.id)/\(dataset.id)"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            pending = discovered.sorted()
        }
        return Resolution(identifiers: listed, rounds: round, capped: !pending.isEmpty)
    }

    // MARK: Files

    struct BundleFile {
        let path: String
        let sha256: String
        let bytes: Int
        let records: Int?
        var manifestEntry: Value {
            var f = Fields([("path", .string(path)), ("sha256", .string(sha256)), ("bytes", .number(String(bytes)))])
            if let records { f.append("records", .number(String(records))) }
            return .object(f)
        }
    }

    /// `manifest.json`: the object, then its `matches` list copied from the staging file.
    func writeManifest(_ manifest: Value, matches: URL?, in bundle: URL) throws(DossierError) -> BundleFile {
        let file = try OutputFile(url: bundle.appendingPathComponent("manifest.json"))
        var head = manifest.prettyJSONText()
        guard head.hasSuffix("\n}\n") else { throw DossierError(.internal, "the manifest is not an object") }
        head.removeLast(3)
        try file.write(head + ",\n  \"matches\": [")
        if let matches {
            try file.write("\n")
            guard let input = FileHandle(forReadingAtPath: matches.path) else {
                throw DossierError(.outputWrite, "cannot read back the staged matches", at: SourceLocation(file: matches.path))
            }
            defer { try? input.close() }
            while let chunk = try? input.read(upToCount: 1 << 16), !chunk.isEmpty { try file.write(bytes: Array(chunk)) }
            try file.write("\n  ")
        }
        try file.write("]\n}\n")
        try file.close()
        return try describe("manifest.json", in: bundle, records: nil)
    }

    func writeDataset(_ store: DatasetStore, into bundle: URL, csvBOM: Bool) throws(DossierError) -> (files: [BundleFile], position: [Int]) {
        let folder = "data/\(store.source.id)"
        let dir = bundle.appendingPathComponent(folder)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw DossierError(.outputWrite, "cannot create a bundle folder", at: SourceLocation(file: dir.path))
        }
        let header = DatasetHeader(source: store.source.id, dataset: store.dataset.id, count: store.count, columns: store.columns)
        let base = "\(folder)/\(store.dataset.id)"
        let writers: [any DatasetWriter] = [
            try JSONDatasetWriter(url: bundle.appendingPathComponent(base + ".json"), header: header),
            try CSVDatasetWriter(url: bundle.appendingPathComponent(base + ".csv"), header: header, byteOrderMark: csvBOM),
            try XMLDatasetWriter(url: bundle.appendingPathComponent(base + ".xml"), header: header),
        ]
        let order = store.sortedOrder()
        try store.forEachRecord(in: order) { record throws(DossierError) in
            for w in writers { try w.write(record) }
        }
        for w in writers { try w.finish() }
        var position = [Int](repeating: 0, count: order.count)
        for (i, entry) in order.enumerated() { position[entry] = i }
        var files: [BundleFile] = []
        for ext in ["csv", "json", "xml"] {
            files.append(try describe(base + "." + ext, in: bundle, records: store.count))
        }
        return (files, position)
    }

    func writeJSON(_ value: Value, to path: String, in bundle: URL, records: Int?) throws(DossierError) -> BundleFile {
        try writeText(value.prettyJSONText(), to: path, in: bundle, records: records)
    }

    func writeText(_ text: String, to path: String, in bundle: URL, records: Int? = nil) throws(DossierError) -> BundleFile {
        let file = try OutputFile(url: bundle.appendingPathComponent(path))
        try file.write(text)
        try file.close()
        return try describe(path, in: bundle, records: records)
    }

    func describe(_ path: String, in bundle: URL, records: Int?) throws(DossierError) -> BundleFile {
        let url = bundle.appendingPathComponent(path)
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DossierError(.outputWrite, "cannot read back a bundle file", at: SourceLocation(file: url.path))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size = 0
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 16) ?? Data() } catch {
                throw DossierError(.outputWrite, "cannot read back a bundle file", at: SourceLocation(file: url.path))
            }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
            size += chunk.count
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return BundleFile(path: path, sha256: digest, bytes: size, records: records)
    }
}

extension Exporter {
    /// Loads a data map, accepting the source kinds that have a collector.
    public static func loadMap(file: String) throws(DossierError) -> DataMap {
        try DataMapLoader(supportedKinds: CollectorRegistry.supportedKinds).load(file: file)
    }
}
