import DossierIdentity
import DossierModel

/// Matching for file sources: a record is found when a lookup field's value, normalised like the
/// identifier kind, equals an identifier; `where` keeps only records whose fields have given values.
struct RecordMatcher {
    let lookups: [(kind: IdentifierKind, path: FieldPath)]
    let wanted: [IdentifierKind: Set<String>]
    let filter: [(path: FieldPath, value: String)]
    let normalizer: any IdentifierNormalizer
    /// The `StandardNormalizer.phoneTail` of every wanted phone, when the normaliser is the standard
    /// one and every wanted phone has one: a phone text with another tail cannot be one of them, and
    /// is not given to libphonenumber.
    private let phoneTails: Set<String>?
    /// Phone texts normalised by this matcher (one lookup): a person's records repeat their numbers.
    private let phones = PhoneMemo()

    /// The matcher's `PhoneCache`, in a box: matching does not mutate the matcher.
    private final class PhoneMemo {
        var cache = PhoneCache(limit: 4096)
    }

    init(dataset: Dataset, identifiers: [Identifier], normalizer: any IdentifierNormalizer) {
        lookups = dataset.lookups.map { ($0.kind, FieldPath($0.expression)) }
        var w: [IdentifierKind: Set<String>] = [:]
        for id in identifiers where dataset.lookups.contains(where: { $0.kind == id.kind }) { w[id.kind, default: []].insert(id.value) }
        wanted = w
        filter = dataset.filter
        self.normalizer = normalizer
        if normalizer is StandardNormalizer, let phones = w[.phone] {
            let tails = phones.compactMap(StandardNormalizer.phoneTail(normalized:))
            phoneTails = tails.count == phones.count ? Set(tails) : nil
        } else {
            phoneTails = nil
        }
    }

    /// The normalised form of a lookup text, or nil when it cannot be one of `values`.
    private func normalized(_ text: String, as kind: IdentifierKind) -> String? {
        guard kind == .phone else { return normalizer.normalize(text, as: kind) }
        if let tails = phoneTails, let tail = StandardNormalizer.phoneTail(text), !tails.contains(tail) { return nil }
        return phones.cache.normalize(text, with: normalizer)
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
                if let n = normalized(text, as: lookup.kind), values.contains(n) {
                    let id = Identifier(kind: lookup.kind, value: n)
                    if !result.contains(id) { result.append(id) }
                }
            }
        }
        return result
    }

    /// False only when the raw bytes of a record (a JSON line) cannot hold any wanted identifier, so
    /// that it need not be parsed. Conservative: a record that might match always passes.
    ///
    /// One pass over the line whatever the number of identifiers: every string's content and every
    /// bare literal is trimmed of ASCII spaces, lower-cased and hashed, and looked up among the
    /// hashes of the wanted identifiers (`rawNeedles`); a collision only costs a parse. A backslash
    /// (an escape may spell the identifier), or a token that begins or ends with a byte beyond ASCII
    /// (Unicode spaces, which normalisation trims), makes the line a candidate.
    static func mightMatch(raw: ArraySlice<UInt8>, needles: Set<UInt64>) -> Bool {
        if raw.contains(0x5C) { return true }
        let end = raw.endIndex
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        func isStructural(_ b: UInt8) -> Bool { b == 0x2C || b == 0x3A || b == 0x5B || b == 0x5D || b == 0x7B || b == 0x7D }
        func candidate(_ from: Int, _ to: Int) -> Bool {
            var s = from, e = to
            while s < e, isSpace(raw[s]) { s += 1 }
            while e > s, isSpace(raw[e - 1]) { e -= 1 }
            guard s < e else { return false }
            if raw[s] >= 0x80 || raw[e - 1] >= 0x80 { return true }
            var hash = fnvOffset
            for k in s..<e { hash = (hash ^ UInt64(lower(raw[k]))) &* fnvPrime }
            return needles.contains(hash)
        }
        var i = raw.startIndex
        while i < end {
            let b = raw[i]
            if b == 0x22 {
                var j = i + 1
                while j < end, raw[j] != 0x22 { j += 1 }
                if candidate(i + 1, j) { return true }
                i = j + 1
            } else if isSpace(b) || isStructural(b) {
                i += 1
            } else {
                var j = i
                while j < end, !isSpace(raw[j]), !isStructural(raw[j]), raw[j] != 0x22 { j += 1 }
                if candidate(i, j) { return true }
                i = j
            }
        }
        return false
    }

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3
    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b | 0x20 : b }

    /// The hashes of the lower-cased ASCII bytes of every wanted identifier, or nil when
    /// prefiltering is unsafe: phone numbers (any format), identifiers beyond ASCII (case folding).
    var rawNeedles: Set<UInt64>? {
        if wanted.keys.contains(.phone) { return nil }
        var result: Set<UInt64> = []
        for values in wanted.values {
            for v in values {
                guard !v.isEmpty, v.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
                var hash = Self.fnvOffset
                for b in v.utf8 { hash = (hash ^ UInt64(Self.lower(b))) &* Self.fnvPrime }
                result.insert(hash)
            }
        }
        return result
    }
}
