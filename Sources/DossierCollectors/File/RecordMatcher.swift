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
        return identifiers(in: record)
    }

    /// The identifiers the record's lookup fields hold, `where` aside.
    func identifiers(in record: Record) -> [Identifier] {
        var result: [Identifier] = []
        for lookup in lookups {
            guard let values = wanted[lookup.kind], let value = record.value(at: lookup.path) else { continue }
            for text in value.scalarTexts {
                if let n = normalizer.normalize(text, as: lookup.kind), values.contains(n) {
                    let id = Identifier(kind: lookup.kind, value: n)
                    if !result.contains(id) { result.append(id) }
                }
            }
        }
        return result
    }

    /// False only when the raw bytes of a record (a JSON line) cannot hold any wanted identifier, so
    /// that it need not be parsed. Conservative: a record that might match always passes. Phone numbers
    /// (any format), escapes (`\u0040`), and identifiers beyond ASCII (case folding) turn it off.
    static func mightMatch(raw: ArraySlice<UInt8>, needles: [[UInt8]]) -> Bool {
        if raw.contains(0x5C) { return true } // a backslash: an escape may spell the identifier
        for needle in needles where contains(raw, needle) { return true }
        return false
    }

    /// The lower-cased ASCII bytes of every wanted identifier, or nil when prefiltering is unsafe.
    var rawNeedles: [[UInt8]]? {
        if wanted.keys.contains(.phone) { return nil }
        var result: [[UInt8]] = []
        for values in wanted.values {
            for v in values {
                guard !v.isEmpty, v.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
                result.append(Array(v.lowercased().utf8))
            }
        }
        return result
    }

    /// ASCII case-insensitive search of `needle` (already lower case) in `haystack`.
    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            let b = haystack[i] | (haystack[i] >= 0x41 && haystack[i] <= 0x5A ? 0x20 : 0)
            if b == first {
                var j = 1
                while j < needle.count {
                    let c = haystack[i + j]
                    if (c | (c >= 0x41 && c <= 0x5A ? 0x20 : 0)) != needle[j] { break }
                    j += 1
                }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

}
