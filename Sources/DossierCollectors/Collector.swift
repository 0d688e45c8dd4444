import DossierMap
import DossierModel
import Foundation

/// The plug-in point of Dossier: one implementation per source kind.
///
/// A collector is opened once per source for a whole run (one export, or a whole batch), shared by
/// the exports that run concurrently, and closed at the end. It finds records for identifiers and
/// streams them to the caller; it never needs a whole dataset in memory.
///
/// ```swift
/// let collector = try await CollectorRegistry.open(source, in: context)
/// try await collector.find(in: dataset, identifiers: [Identifier(kind: .email, value: "anna@example.pl")]) { record, by in
///     print(record.count, by)
/// }
/// await collector.close()
/// ```
public protocol Collector: Sendable {
    /// Calls `found` for every record of `dataset` that one of `identifiers` finds, with that identifier.
    /// A record found by two identifiers is reported twice. Identifiers of kinds the dataset cannot
    /// look up are ignored.
    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) async throws(DossierError)

    /// Checks the dataset against the source (queries prepare and are read-only, files parse) and
    /// returns the field names its records have, as far as they can be known.
    func check(_ dataset: Dataset) async throws(DossierError) -> [String]

    /// Releases what the collector holds (a transaction, connections, files). Called once, when the
    /// run is over; nothing is asked of the collector afterwards.
    func close() async
}

/// A source kind: the keys it reads from the data map (`SourceKindDefinition`) and how it opens a
/// collector for one of its sources.
///
/// Adding a kind is one folder with a type conforming to this protocol, and one line in
/// `CollectorRegistry.kinds`.
public protocol SourceKind: SourceKindDefinition {
    /// Opens the source. Throws `.sourceUnreadable` when it cannot be opened.
    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector
}

/// What a collector needs besides its source: the map (for paths), the normaliser, what the run
/// does with lookup indexes, and how many exports of the run may ask at once (a database source
/// opens at most that many connections).
public struct CollectorContext: Sendable {
    public let map: DataMap
    public let normalizer: any IdentifierNormalizer
    public let indexes: IndexPolicy
    public let concurrency: Int
    /// True for `dossier validate`: a field the map names and the source lacks is a map error (64)
    /// at the map's line; in an export it is the source that cannot be read as the map says (66).
    public let validating: Bool
    public init(map: DataMap, normalizer: any IdentifierNormalizer, indexes: IndexPolicy = .none, concurrency: Int = 1,
                validating: Bool = false) {
        self.map = map; self.normalizer = normalizer; self.indexes = indexes; self.concurrency = max(1, concurrency)
        self.validating = validating
    }

    /// The error of a field the map names (`what`: "lookup email", "yields crm_id") that the source
    /// does not have (`lacks`: "the header of lists.csv has no column 'E-mail'").
    /// `validate` points at the map's line; an export at the source's file (`in`).
    public func missingField(_ what: String, lacks: String, dataset: Dataset, source: Source, at location: SourceLocation?,
                             in file: SourceLocation) -> DossierError {
        if validating {
            return DossierError(.dataMap, "dataset '\(dataset.id)': \(what) names a field the source does not have: \(lacks)",
                                at: location ?? dataset.location)
        }
        return DossierError(.sourceUnreadable, "source '\(source.id)', dataset '\(dataset.id)': \(lacks), which \(what) names", at: file)
    }

    /// A `yields` path whose column a query does not return (`columns`): it would never give an
    /// identifier. For the SQL kinds, whose lookups say their columns when prepared or run.
    public func missingYield(_ dataset: Dataset, columns: [String], source: Source, in file: SourceLocation) -> DossierError? {
        for y in dataset.yields {
            for path in y.paths where !columns.contains(path.components.first ?? "") {
                return missingField("yields \(y.kind.name)", lacks: "the query returns no column '\(path)'", dataset: dataset,
                                    source: source, at: y.location, in: file)
            }
        }
        return nil
    }

    /// The file a dataset reads: its own `path`, else its source's.
    public func file(of dataset: Dataset, in source: Source) -> URL {
        map.resolve(path: dataset.path ?? source.path ?? "")
    }
}

/// The source kinds Dossier can read. Adding a kind: one folder with its `SourceKind`, one line here.
public enum CollectorRegistry {
    public static let kinds: [any SourceKind.Type] = [
        SQLiteKind.self,
        PostgresKind.self,
        CSVKind.self,
        JSONLinesKind.self,
        XMLKind.self,
        CommandKind.self,
        HTTPKind.self,
    ]

    /// Kinds DESIGN.md names that this version does not implement yet.
    public static let plannedKinds: Set<String> = []

    /// A data map loader that accepts exactly the kinds above.
    public static var mapLoader: DataMapLoader {
        DataMapLoader(kinds: kinds.map { $0 as any SourceKindDefinition.Type }, plannedKinds: plannedKinds)
    }

    public static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        guard let kind = kinds.first(where: { $0.name == source.kind }) else {
            throw DossierError(.dataMap, "source kind '\(source.kind)' is not supported", at: source.location)
        }
        return try await kind.open(source, in: context)
    }
}
