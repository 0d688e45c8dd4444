import DossierArchive
import DossierCollectors
import DossierFormats
import DossierIdentity
import DossierMap
import DossierModel
import DossierReport
import Foundation
import Logging

/// Runs the flow of DESIGN.md for one request, in phases: resolve identity and collect
/// (`IdentityResolver`), assemble the bundle (`BundleAssembler`, `InformationBuilder`,
/// `IndexPageBuilder`), pack (`Packer`).
///
/// ```swift
/// let map = try Exporter.loadMap(file: "Samples/dossier.yaml")
/// let result = try await Exporter(map: map).export(ExportRequest(
///     identifiers: [(.email, "zofia.wisniewska@example.pl")], outputDirectory: out,
///     requestID: "R-1", asOf: Date()))
/// print(result.archive!.path)
/// ```
///
/// Many exports share one set of opened sources with `export(_:using:)`.
public struct Exporter: Sendable {
    public static let toolName = "dossier"
    public static let toolVersion = "0.1.0"

    public let map: DataMap
    public let logger: Logger
    /// The folder of the lookup indexes: the given one, else the map's `index.path`, else none.
    public let indexFolder: URL?
    let normalizer: StandardNormalizer
    /// The identifier kinds some dataset looks up or yields: another kind would find nothing anywhere.
    let knownKinds: Set<IdentifierKind>
    /// `index.html`'s explanations, rendered once for each information.json the exports meet.
    let explanations = ExplanationsCache()

    public init(map: DataMap, indexFolder: URL? = nil, logger: Logger = Logger(label: "dossier")) {
        self.map = map
        self.logger = logger
        self.indexFolder = indexFolder ?? map.indexPath.map { map.resolve(path: $0) }
        normalizer = StandardNormalizer(defaultRegion: map.controller.defaultRegion)
        knownKinds = Set(map.sources.flatMap { $0.datasets.flatMap { d in d.lookups.map(\.kind) + d.yields.map(\.kind) } })
    }

    /// Builds or refreshes the lookup index of every file source (in `folder`, else `indexFolder`)
    /// and says, per source, what was done.
    public func buildIndexes() async throws(DossierError) -> [(source: Source, state: IndexState)] {
        guard let folder = indexFolder else {
            throw DossierError(.usage, "no folder for the lookup indexes is named, and the data map names none in index.path", missing: .indexFolder)
        }
        return try await OpenedSources.with(map, indexes: .build(folder)) { sources throws(DossierError) in sources.indexStates }
    }

    /// Loads a data map, accepting the source kinds that have a collector.
    public static func loadMap(file: String) throws(DossierError) -> DataMap {
        try CollectorRegistry.mapLoader.load(file: file)
    }

    /// Starts parsing the page's templates for `language` (or the map's first, as an export chooses)
    /// on another thread, as `export(_:)` does when it begins; a later start for the same language
    /// does nothing more. An unknown language is left for the export to report.
    public static func preparePage(for map: DataMap, language: String?) {
        guard let texts = try? Translations(language: map.language(language)) else { return }
        Report.prepare(texts)
    }

    /// Normalises and checks identifiers given by a person; a malformed one is a usage error.
    public func normalizedIdentifiers(_ given: [(kind: IdentifierKind, text: String)]) throws(DossierError) -> [Identifier] {
        guard !given.isEmpty else {
            throw DossierError(.usage, "no identifier of the person was given", missing: .identifiers)
        }
        var result: [Identifier] = []
        // A kind no dataset looks up would find nothing anywhere, and the bundle would say "no data".
        for (kind, _) in given where !knownKinds.contains(kind) {
            throw DossierError(.usage, "no dataset of the data map looks up a '\(kind.name)' identifier (it knows \(knownKinds.map(\.name).sorted().joined(separator: ", ")))")
        }
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

    /// Opens every source and checks every dataset. Returns, per dataset, the fields the map does not
    /// describe, and, per source, the state of its lookup index (when an index folder is known).
    public func validateSources() async throws(DossierError) -> (notes: [(dataset: String, undescribed: [String])],
                                                                 indexes: [(source: Source, state: IndexState)]) {
        for language in map.controller.languages where !Translations.available.contains(language) {
            throw DossierError(.dataMap, "the bundle's texts exist in \(Translations.available.joined(separator: " and ")), not in '\(language)': add Sources/DossierReport/Resources/translations/\(language).json or remove the language",
                               at: SourceLocation(file: map.file, key: "controller.languages"))
        }
        let map = self.map
        return try await OpenedSources.with(map, indexes: indexFolder.map { .inspect($0) } ?? .none, validating: true) { sources throws(DossierError) in
            var notes: [(String, [String])] = []
            for (source, collector) in sources.collectors {
                for dataset in source.datasets {
                    let names = try await collector.check(dataset)
                    notes.append(("\(source.id)/\(dataset.id)", names.filter { !dataset.describes(fieldNamed: $0) }))
                }
            }
            return (notes, sources.indexStates)
        }
    }

    /// One export with sources opened for it alone. With an index folder, it uses the fresh indexes,
    /// rebuilds stale ones and scans a file source that has none. Without one, the file sources'
    /// indexes are built for this export alone, in a private temporary folder removed after it: one
    /// pass over each file for all its datasets and every round, where scanning reads every file
    /// in every round (release build, the bench's data: the person with 1,000 records 5.1 -> 1.37 s,
    /// a person found nowhere 2.3 -> 1.26 s).
    public func export(_ request: ExportRequest) async throws(DossierError) -> ExportResult {
        let (_, texts) = try checkRequest(request)
        // The page's templates are parsed on the other core while the sources are opened and read.
        Report.prepare(texts)
        let exporter = self
        if let indexFolder {
            return try await OpenedSources.with(map, indexes: .use(indexFolder)) { sources throws(DossierError) in
                try await exporter.export(request, using: sources)
            }
        }
        let temporary = Scratch.temporaryURL("dossier-index")
        defer { Scratch.remove(temporary.url, temporary.token) }
        return try await OpenedSources.with(map, indexes: .build(temporary.url)) { sources throws(DossierError) in
            try await exporter.export(request, using: sources)
        }
    }

    /// Checks what can be checked before any source is opened: the request id, the identifiers (as
    /// normalised) and the language of the texts.
    @discardableResult
    func checkRequest(_ request: ExportRequest) throws(DossierError) -> (given: [Identifier], texts: Translations) {
        guard request.requestID.count <= ExportRequest.maxRequestIDLength else {
            throw DossierError(.usage, "the request id is longer than \(ExportRequest.maxRequestIDLength) characters")
        }
        guard ExportRequest.isValidRequestID(request.requestID) else {
            throw DossierError(.usage, "the request id may hold only letters, digits, '.', '_' and '-' (and not start with a dot)")
        }
        return (try normalizedIdentifiers(request.identifiers),
                try Translations(language: map.language(request.language)))
    }

    /// One export against sources opened for a whole run; `sources` must be opened from this map.
    public func export(_ request: ExportRequest, using sources: OpenedSources) async throws(DossierError) -> ExportResult {
        let (given, texts) = try checkRequest(request)
        var log = logger
        log[metadataKey: "request"] = "\(request.requestID)"

        let out = request.outputDirectory
        do { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw DossierError(.outputUnavailable, "cannot create the output folder", at: SourceLocation(file: out.path))
        }
        // The export's private folder: what outgrows the memory budget is staged in it, and a
        // signal removes it with everything in it.
        let stagingFolder = out.appendingPathComponent(".dossier-staging-\(request.requestID)-\(UUID().uuidString.prefix(8))")
        let staging = Staging(folder: stagingFolder)
        let bundle = stagingFolder.appendingPathComponent("bundle")
        let token = Scratch.register(stagingFolder)
        defer {
            if rmdir(stagingFolder.path) != 0 { try? FileManager.default.removeItem(at: stagingFolder) }
            Scratch.release(token)
        }
        guard mkdir(stagingFolder.path, 0o700) == 0 else {
            throw DossierError(.outputUnavailable, "cannot create a staging folder in the output folder", at: SourceLocation(file: out.path))
        }

        // Resolve identity and collect.
        let resolver = IdentityResolver(map: map, normalizer: normalizer)
        if let redactions = request.redactions {
            for field in redactions.fields {
                let parts = field.split(separator: "/", maxSplits: 2).map(String.init)
                guard parts.count == 3, !parts[2].isEmpty,
                      map.sources.contains(where: { $0.id == parts[0] && $0.datasets.contains { $0.id == parts[1] } }) else {
                    throw DossierError(.usage, "a field to withhold is named source/dataset/field, with a source and dataset of the data map: '\(field)' is not")
                }
            }
        }
        let stores = resolver.stores(kind: request.kind, staging: staging, redactions: request.redactions)
        let resolution = try await resolver.resolve(given: given, sources: sources, into: stores, atOnce: sources.lookupsAtOnce)
        log.info("collected", metadata: ["records": "\(stores.all.reduce(0) { $0 + $1.count })", "rounds": "\(resolution.rounds)"])

        // Assemble the bundle: the data first (the fingerprint is what the person's data is).
        let assembler = BundleAssembler(map: map, bundle: bundle, staging: staging)
        let data = try assembler.writeData(stores, csvBOM: request.csvBOM, asOf: request.asOf)
        let fingerprint = BundleAssembler.fingerprint(kind: request.kind, files: data.files)
        let counts = stores.all.map { (dataset: $0.id.description, count: $0.count) }
        let foundBy = stores.all.filter { $0.count > 0 }.map { store in
            (dataset: store.id.description,
             identifiers: store.recordsFound.map { (identifier: $0.key, records: $0.value) }.sorted { $0.identifier < $1.identifier })
        }
        /// What the export found, with the archive written (if any).
        func outcome(parts: [URL] = [], sha256: String? = nil, size: Int? = nil) -> ExportResult {
            var result = ExportResult(parts: parts, archiveSHA256: sha256, archiveSize: size, fingerprint: fingerprint,
                                      requestID: request.requestID, counts: counts, rounds: resolution.rounds, capped: resolution.capped)
            result.foundBy = foundBy
            result.identifiers = resolution.identifiers.map(\.identifier)
            return result
        }
        guard request.pack else { return outcome() }

        var files = data.files
        let informationBuilder = InformationBuilder(map: map, t: texts, kind: request.kind, day: String(request.asOf.utcTimestamp.prefix(10)))
        let information = informationBuilder.build(stores: stores.all)
        files.append(try assembler.writeJSON(information, to: "information.json"))
        let page = try IndexPageBuilder(map: map, t: texts).render(
            information: information, stores: stores.all,
            files: files.map { ($0.path, $0.bytes) }, request: request, summary: informationBuilder.summary(stores.all),
            explanations: explanations)
        files.append(try assembler.writeText(page, to: "index.html"))
        let manifest = assembler.manifestHead(request: request, given: given, stores: stores, resolution: resolution,
                                              datasets: data.datasetEntries, files: files, fingerprint: fingerprint)
        let manifestFile = try assembler.writeManifest(manifest, matches: data.matches)

        // Checksums: every file of the bundle but the checksum file itself, as `sha256sum -c` reads them.
        let sums = ([manifestFile] + files).sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            .map { "\($0.sha256)  \($0.path)\n" }.joined()
        let sumsFile = try assembler.writeText(sums, to: "SHA256SUMS")

        if let folder = request.unpackedInto {
            // The files kept in memory are written out, and the folder they make is moved in place.
            for file in [manifestFile, sumsFile] + files { try file.contents.materialize() }
            do {
                try FileManager.default.moveItem(at: bundle, to: folder)
                try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder.path)
            } catch {
                throw DossierError(.outputWrite, "cannot move the bundle into its folder", at: SourceLocation(file: folder.path))
            }
            var result = outcome()
            result.bundleFolder = folder
            return result
        }

        // Pack.
        let archives = try Packer(request: request).pack([manifestFile, sumsFile] + files)
        var digests: [(sha256: String, size: Int)] = []
        for archive in archives {
            let file = request.publish ? archive.destination : archive.temporary
            digests.append(try BundleFile.digest(of: file))
        }
        log.info("archive written", metadata: ["format": "\(request.format.rawValue)", "parts": "\(archives.count)"])
        var result = outcome(parts: archives.map(\.destination), sha256: digests[0].sha256, size: digests[0].size)
        result.partDigests = digests
        if !request.publish { result.unpublished = archives }
        return result
    }
}
