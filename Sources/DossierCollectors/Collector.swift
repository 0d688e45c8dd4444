import DossierModel
import Foundation

/// The plug-in point of Dossier: one implementation per source kind.
///
/// A collector is opened once per source for a whole run, finds records for identifiers and
/// streams them to the caller; it never needs a whole dataset in memory.
///
/// ```swift
/// let collector = try CollectorRegistry.open(source, in: context)
/// try collector.find(in: dataset, identifiers: [Identifier(kind: .email, value: "anna@example.pl")]) { record, by in
///     print(record.count, by)
/// }
/// ```
public protocol Collector: AnyObject {
    /// The kind named in the data map (`sqlite`, `csv`, …).
    static var kind: String { get }

    /// Opens the source. Throws `.sourceUnreadable` when it cannot be opened.
    init(source: Source, context: CollectorContext) throws(DossierError)

    /// Calls `found` for every record of `dataset` that one of `identifiers` finds, with that identifier.
    /// A record found by two identifiers is reported twice. Identifiers of kinds the dataset cannot
    /// look up are ignored.
    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) throws(DossierError)

    /// Checks the dataset against the source (queries prepare and are read-only, files parse) and
    /// returns the field names its records have, as far as they can be known.
    func check(_ dataset: Dataset) throws(DossierError) -> [String]
}

/// What a collector needs besides its source: the map (for paths) and the normaliser.
public struct CollectorContext: Sendable {
    public let map: DataMap
    public let normalizer: any IdentifierNormalizer
    public init(map: DataMap, normalizer: any IdentifierNormalizer) { self.map = map; self.normalizer = normalizer }

    /// The file a dataset reads: its own `path`, else its source's.
    public func file(of dataset: Dataset, in source: Source) -> URL {
        map.resolve(path: dataset.path ?? source.path ?? "")
    }
}

/// The source kinds Dossier can read. Adding a kind: one folder with its collector, one line here.
public enum CollectorRegistry {
    public static var kinds: [any Collector.Type] { [
        SQLiteCollector.self,
        CSVCollector.self,
        JSONLinesCollector.self,
        XMLCollector.self,
    ] }

    public static var supportedKinds: Set<String> { Set(kinds.map { $0.kind }) }

    public static func open(_ source: Source, in context: CollectorContext) throws(DossierError) -> any Collector {
        guard let type = kinds.first(where: { $0.kind == source.kind }) else {
            throw DossierError(.dataMap, "source kind '\(source.kind)' is not supported", at: source.location)
        }
        return try type.init(source: source, context: context)
    }
}
