import DossierMap
import DossierModel
import Foundation

/// How records are read out of one kind of file (CSV, JSON Lines, XML): the one step that differs
/// between the file kinds. `FileCollector` owns everything else (opening, matching, the lookup path).
protocol RecordFileFormat: Sendable {
    /// Streams every record of `dataset` in `file`, in file order. With a `prefilter`, the format may
    /// skip records that cheaply prove unable to hold one of its identifiers (a conservative test:
    /// a record that might match is always passed on); the caller matches every record it is given.
    func scan(_ file: URL, dataset: Dataset, source: String, prefilter: RecordMatcher?,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError)

    /// The field names of the records the dataset selects (`where`), in first-seen order.
    func fieldNames(_ file: URL, dataset: Dataset, source: String, normalizer: any IdentifierNormalizer) throws(DossierError) -> [String]
}

extension RecordFileFormat {
    func fieldNames(_ file: URL, dataset: Dataset, source: String, normalizer: any IdentifierNormalizer) throws(DossierError) -> [String] {
        let matcher = RecordMatcher(dataset: dataset, identifiers: [], normalizer: normalizer)
        var names: [String] = []
        var known: Set<String> = []
        try scan(file, dataset: dataset, source: source, prefilter: nil) { record throws(DossierError) in
            guard matcher.passesFilter(record) else { return }
            for name in record.names where known.insert(name).inserted { names.append(name) }
        }
        return names
    }
}

/// The collector of every file kind: a lookup is one streamed scan of the dataset's file that
/// matches each record against all wanted identifiers at once.
final class FileCollector<Format: RecordFileFormat>: Collector {
    let source: Source
    let context: CollectorContext
    let format: Format

    /// Throws `.sourceUnreadable` naming the first dataset file that cannot be read.
    init(source: Source, context: CollectorContext, format: Format) throws(DossierError) {
        self.source = source
        self.context = context
        self.format = format
        for dataset in source.datasets {
            let file = context.file(of: dataset, in: source)
            guard FileManager.default.isReadableFile(atPath: file.path) else {
                throw .unreadable("the file does not exist or cannot be read", file: file, source: source.id)
            }
        }
    }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        let matcher = RecordMatcher(dataset: dataset, identifiers: identifiers, normalizer: context.normalizer)
        if matcher.isEmpty { return }
        try format.scan(context.file(of: dataset, in: source), dataset: dataset, source: source.id, prefilter: matcher) { record throws(DossierError) in
            for id in matcher.matches(record) { try found(record, id) }
        }
    }

    func check(_ dataset: Dataset) async throws(DossierError) -> [String] {
        try format.fieldNames(context.file(of: dataset, in: source), dataset: dataset, source: source.id, normalizer: context.normalizer)
    }

    func close() async {}
}

/// The map keys every file kind shares: `path` on the source or on each dataset, and `where` on a
/// dataset to select one kind of record in a file that holds several.
protocol FileSourceKind: SourceKind {
    associatedtype Format: RecordFileFormat
    static func format(for source: Source) -> Format
}

extension FileSourceKind {
    static var sourceKeys: Set<String> { ["path"] }
    static var datasetKeys: Set<String> { ["path", "where"] }

    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        try readFileKey(sourceKey: key, value, into: &source)
    }

    static func read(datasetKey key: String, _ value: MapNode, into dataset: inout Dataset) throws(DossierError) {
        try readFileKey(datasetKey: key, value, into: &dataset)
    }

    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        try checkFile(dataset: dataset, in: source, at: node)
    }

    /// `path` on a source.
    static func readFileKey(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        if key == "path" { source.path = try value.nonEmptyString() }
    }

    /// `path` and `where` on a dataset.
    static func readFileKey(datasetKey key: String, _ value: MapNode, into dataset: inout Dataset) throws(DossierError) {
        switch key {
        case "path": dataset.path = try value.nonEmptyString()
        case "where":
            for (path, v) in try value.entries() { dataset.filter.append((FieldPath(path), try v.string())) }
        default: break
        }
    }

    /// Every dataset reads a file: its own path, or its source's.
    static func checkFile(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        if dataset.path == nil && source.path == nil {
            throw node.fail("a \(name) dataset needs a path, on the source or on the dataset")
        }
    }

    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        try FileCollector(source: source, context: context, format: format(for: source))
    }
}

extension DossierError {
    /// A source that cannot be read, with where.
    static func unreadable(_ message: String, file: URL, line: Int? = nil, source: String) -> DossierError {
        DossierError(.sourceUnreadable, "source '\(source)': \(message)", at: SourceLocation(file: file.path, line: line))
    }
}
