import DossierModel

/// What the data map loader asks of a source kind: which keys its sources and datasets may carry,
/// how to read them, and what a complete dataset of the kind needs.
///
/// The loader reads the keys every source and dataset has (`title`, `description`, `kind`,
/// `datasets`; `key`, `lookup`, `yields`, `purposes`, …) and hands the rest to the kind, so it
/// knows no kind itself. A kind that adds a key declares it here, and an unknown key stays an error.
///
/// ```swift
/// enum NotesKind: SourceKindDefinition {
///     static let name = "notes"
///     static let sourceKeys: Set<String> = ["path"]
///     static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
///         source.path = try value.nonEmptyString()
///     }
/// }
/// let map = try DataMapLoader(kinds: [NotesKind.self]).load(file: "map.yaml")
/// ```
public protocol SourceKindDefinition: Sendable {
    /// The name that `kind:` gives in the data map (`sqlite`, `csv`, …).
    static var name: String { get }
    /// Keys a source of this kind may carry besides `title`, `description`, `kind` and `datasets`.
    static var sourceKeys: Set<String> { get }
    /// Keys a dataset of this kind may carry besides the ones every dataset has.
    static var datasetKeys: Set<String> { get }
    /// Reads one of `sourceKeys`.
    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError)
    /// Reads one of `datasetKeys`.
    static func read(datasetKey key: String, _ value: MapNode, into dataset: inout Dataset) throws(DossierError)
    /// Checks one `lookup` expression as it is read: a query, a field path, ….
    static func check(lookup expression: String, at value: MapNode) throws(DossierError)
    /// Checks a dataset once all its keys are read: what the kind requires of it.
    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError)
}

extension SourceKindDefinition {
    public static var sourceKeys: Set<String> { [] }
    public static var datasetKeys: Set<String> { [] }
    public static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {}
    public static func read(datasetKey key: String, _ value: MapNode, into dataset: inout Dataset) throws(DossierError) {}
    public static func check(lookup expression: String, at value: MapNode) throws(DossierError) {}
    public static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {}
}
