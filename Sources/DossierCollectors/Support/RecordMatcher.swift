import DossierModel

/// Matching for file sources: a record is found when a lookup field's value, normalised like the
/// identifier kind, equals an identifier; `where` keeps only records whose fields have given values.
struct RecordMatcher {
    let lookups: [(kind: IdentifierKind, path: FieldPath)]
    let wanted: [IdentifierKind: Set<String>]
    let filter: [(path: FieldPath, value: String)]
    let normalizer: any IdentifierNormalizer

    init(dataset: Dataset, identifiers: [Identifier], normalizer: any IdentifierNormalizer) {
        lookups = dataset.lookups.map { ($0.kind, FieldPath($0.expression)) }
        var w: [IdentifierKind: Set<String>] = [:]
        for id in identifiers where dataset.lookups.contains(where: { $0.kind == id.kind }) { w[id.kind, default: []].insert(id.value) }
        wanted = w
        filter = dataset.filter
        self.normalizer = normalizer
    }

    /// True when there is nothing to look for.
    var isEmpty: Bool { wanted.isEmpty }

    /// True when the record passes `where`.
    func passesFilter(_ record: Record) -> Bool {
        filter.allSatisfy { record.value(at: $0.path)?.scalarText == $0.value }
    }

    /// The identifiers that find this record.
    func matches(_ record: Record) -> [Identifier] {
        guard passesFilter(record) else { return [] }
        var result: [Identifier] = []
        for lookup in lookups {
            guard let values = wanted[lookup.kind], let value = record.value(at: lookup.path) else { continue }
            for text in Self.texts(value) {
                if let n = normalizer.normalize(text, as: lookup.kind), values.contains(n) {
                    let id = Identifier(kind: lookup.kind, value: n)
                    if !result.contains(id) { result.append(id) }
                }
            }
        }
        return result
    }

    /// The scalar texts of a value: itself, or each element of a list.
    static func texts(_ value: Value) -> [String] {
        if case .array(let items) = value { return items.compactMap(\.scalarText) }
        return value.scalarText.map { [$0] } ?? []
    }
}
