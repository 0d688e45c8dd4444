import DossierIdentity
import DossierMap
import DossierModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How records are read out of one kind of file (CSV, JSON Lines, XML): the one step that differs
/// between the file kinds. `FileCollector` owns everything else (opening, matching, the lookup path,
/// the lookup index).
protocol RecordFileFormat: Sendable {
    /// What reading a record back through the index needs to know of its file (CSV: the header).
    associatedtype Layout: Sendable = Void

    /// Streams every record of `dataset` in `file`, in file order. With a `prefilter`, the format may
    /// skip records that cheaply prove unable to hold one of its identifiers (a conservative test:
    /// a record that might match is always passed on); the caller matches every record it is given.
    func scan(_ file: URL, dataset: Dataset, source: String, prefilter: RecordMatcher?,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError)

    /// The field names of the records the dataset selects (`where`), in first-seen order.
    func fieldNames(_ file: URL, dataset: Dataset, source: String, normalizer: any IdentifierNormalizer) throws(DossierError) -> [String]

    /// One pass over the file for its lookup index: every record's values at `fields` (one per path,
    /// nil when absent), its byte range and the positions (in `datasets`, all of which read this
    /// file) of the datasets it may belong to. Only each value's `scalarText` and `scalarTexts` are
    /// read, and they must equal those of `record.value(at:)` of the record a scan would give (a
    /// format may read just these fields instead of building the record, see `projection`).
    /// Returns what read-back will need to know of the file, as text stored with the index, or why
    /// the file cannot be indexed (it is then scanned).
    func scanRanges(_ file: URL, datasets: [Dataset], fields: [FieldPath], source: String,
                    _ body: ([Value?], ByteRange, [Int]) throws(DossierError) -> Void) throws(DossierError) -> RangeScan

    /// Read once when an index of the file is opened, from the file or from what `scanRanges` stored.
    func layout(of file: URL, stored: String?, source: String) throws(DossierError) -> Layout

    /// The record of `dataset` in `bytes`, read back from `range` of the file; nil when they hold none.
    func record(from bytes: [UInt8], range: ByteRange, dataset: Dataset, layout: Layout, file: URL, source: String) throws(DossierError) -> Record?
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

extension RecordFileFormat {
    /// The values of a whole record at `fields`, as `scanRanges` gives them: the general path of a
    /// format that reads only some fields of most records.
    static func projection(of record: Record, at fields: [FieldPath], into values: inout [Value?]) {
        for (k, path) in fields.enumerated() { values[k] = record.value(at: path) }
    }
}

extension RecordFileFormat where Layout == Void {
    func layout(of file: URL, stored: String?, source: String) throws(DossierError) {}
}

/// The end of a pass for the index.
enum RangeScan {
    /// Every record was given; `layout` is stored with the index for read-back (nil: nothing).
    case done(layout: String?)
    /// The file cannot be indexed (the reason is shown); its source is scanned.
    case notIndexable(String)
}

/// The collector of every file kind. A lookup reads the dataset's file through its source's lookup
/// index when the run has a fresh one (seeking to each record and checking it again), and otherwise
/// is one streamed scan of the file that matches each record against all wanted identifiers at once.
final class FileCollector<Format: RecordFileFormat>: IndexedCollector {
    let source: Source
    let context: CollectorContext
    let format: Format
    let indexState: IndexState
    private let index: LookupIndex?
    /// Open descriptors and layouts of the files read through the index, by path.
    private let files: [String: (fd: Int32, layout: Format.Layout)]

    /// Throws `.sourceUnreadable` naming the first dataset file that cannot be read.
    init(source: Source, context: CollectorContext, format: Format) throws(DossierError) {
        self.source = source
        self.context = context
        self.format = format
        var paths: [String] = []
        for dataset in source.datasets {
            let file = context.file(of: dataset, in: source)
            guard FileManager.default.isReadableFile(atPath: file.path) else {
                throw .unreadable("the file does not exist or cannot be read", file: file, source: source.id)
            }
            // A device, a pipe or a folder is no data file: /dev/zero would be read for ever.
            var info = stat()
            guard stat(file.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw .unreadable("is not a regular file", file: file, source: source.id)
            }
            if !paths.contains(file.path) { paths.append(file.path) }
        }
        guard let folder = context.indexes.folder else {
            (indexState, index, files) = (.notUsed, nil, [:])
            return
        }
        let url = LookupIndex.file(for: source, in: folder)
        var stamps: [String: FileStamp] = [:]
        for path in paths {
            do { stamps[path] = try FileStamp.of(URL(fileURLWithPath: path)) } catch {
                throw .unreadable("the file cannot be read", file: URL(fileURLWithPath: path), source: source.id)
            }
        }
        let definition = Self.definition(of: source, format: format, context: context)
        let staleness = LookupIndex.staleness(of: url, definition: definition, stamps: stamps)
        var state: IndexState
        switch (context.indexes, staleness) {
        case (_, nil): state = .fresh
        case (.inspect, .missing?), (.use, .missing?): state = .missing
        case (.inspect, .stale(let why)?): state = .stale(why)
        case (_, let why?):
            state = try Self.build(source: source, context: context, format: format, paths: paths, stamps: stamps,
                                   definition: definition, reason: why.reason, to: url)
        }
        var usable = false
        switch (state, context.indexes) {
        case (.fresh, .inspect): usable = false
        case (.fresh, _), (.built, _): usable = true
        default: usable = false
        }
        guard usable else {
            (indexState, index, files) = (state, nil, [:])
            return
        }
        var opened: [String: (fd: Int32, layout: Format.Layout)] = [:]
        do {
            let lookupIndex = try LookupIndex.open(url)
            for path in paths {
                let layout = try format.layout(of: URL(fileURLWithPath: path), stored: try lookupIndex.layout(of: path), source: source.id)
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw DossierError.unreadable("the file cannot be opened", file: URL(fileURLWithPath: path), source: source.id) }
                opened[path] = (fd, layout)
            }
            index = lookupIndex
        } catch let error as DossierError {
            for (_, f) in opened { Glibc.close(f.fd) }
            throw error
        } catch {
            for (_, f) in opened { Glibc.close(f.fd) }
            throw .unreadable("the lookup index cannot be opened", file: url, source: source.id)
        }
        indexState = state
        files = opened
    }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        let matcher = RecordMatcher(dataset: dataset, identifiers: identifiers, normalizer: context.normalizer)
        if matcher.isEmpty { return }
        let file = context.file(of: dataset, in: source)
        if let index, let opened = files[file.path] {
            // Through the index: every range any wanted identifier points at, in file order, each
            // record parsed and matched again (a stale entry or a hash collision finds nothing).
            var ranges: Set<ByteRange> = []
            for lookup in dataset.lookups {
                for value in matcher.wanted[lookup.kind] ?? [] {
                    for key in Self.indexKeys(of: value, kind: lookup.kind, normalizer: context.normalizer) {
                        do { ranges.formUnion(try index.ranges(dataset: dataset.id, kind: lookup.kind, value: key)) } catch {
                            throw .unreadable("the lookup index cannot be read", file: LookupIndex.file(for: source, in: context.indexes.folder!), source: source.id)
                        }
                    }
                }
            }
            for range in ranges.sorted() {
                var bytes = [UInt8](repeating: 0, count: range.length)
                let n = bytes.withUnsafeMutableBytes { pread(opened.fd, $0.baseAddress, range.length, off_t(range.offset)) }
                guard n == range.length,
                      let record = try format.record(from: bytes, range: range, dataset: dataset, layout: opened.layout, file: file, source: source.id) else {
                    throw .unreadable("the record at byte \(range.offset) is no longer where the lookup index says: the file changed after the index was built; rebuild the index",
                                      file: file, source: source.id)
                }
                for id in matcher.matches(record) { try found(record, id) }
            }
            return
        }
        try format.scan(file, dataset: dataset, source: source.id, prefilter: matcher) { record throws(DossierError) in
            for id in matcher.matches(record) { try found(record, id) }
        }
    }

    func check(_ dataset: Dataset) async throws(DossierError) -> [String] {
        try format.fieldNames(context.file(of: dataset, in: source), dataset: dataset, source: source.id, normalizer: context.normalizer)
    }

    func close() async {
        index?.close()
        for (_, f) in files { Glibc.close(f.fd) }
    }

    // MARK: The index

    /// The values an index build keys a record's lookup text by is its normalised form, or, for a
    /// phone text libphonenumber need not read (`StandardNormalizer.phoneTail`), its last digits:
    /// a lookup asks for both. Another normaliser (a test's) keys every text by its normalised form.
    static func indexKeys(of value: String, kind: IdentifierKind, normalizer: any IdentifierNormalizer) -> [String] {
        guard kind == .phone, normalizer is StandardNormalizer, let tail = StandardNormalizer.phoneTail(normalized: value) else { return [value] }
        return [value, tail]
    }

    /// The part of the map that decides what the index holds: the kind, the default region (phone
    /// texts without a country code are read in it), and every dataset's file, selection and lookups.
    static func definition(of source: Source, format: Format, context: CollectorContext) -> String {
        var parts = ["kind=\(source.kind)", "region=\(context.map.controller.defaultRegion)", "options=\(source.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })"]
        for dataset in source.datasets {
            parts.append("dataset=\(dataset.id)|file=\(context.file(of: dataset, in: source).path)|record=\(dataset.record ?? "")"
                + "|where=\(dataset.filter.map { "\($0.path)=\($0.value)" })|lookup=\(dataset.lookups.map { "\($0.kind)=\($0.expression)" })")
        }
        return parts.joined(separator: "\n")
    }

    /// One streamed pass over each file of the source, all its datasets at once; `.built`, or
    /// `.unsupported` when a file cannot be indexed.
    static func build(source: Source, context: CollectorContext, format: Format, paths: [String], stamps: [String: FileStamp],
                      definition: String, reason: String, to url: URL) throws(DossierError) -> IndexState {
        let started = DispatchTime.now().uptimeNanoseconds
        var entries: [LookupIndex.Entry] = []
        var layouts: [String: String] = [:]
        var records = 0
        for path in paths {
            let file = URL(fileURLWithPath: path)
            let datasets = source.datasets.filter { context.file(of: $0, in: source).path == path }
            let plan = IndexPlan(datasets: datasets)
            let prefixes = datasets.indices.map { i in plan.lookups[i].map { LookupIndex.keyPrefix(dataset: datasets[i].id, kind: $0.kind) } }
            var phones = PhoneCache()
            let tails = context.normalizer is StandardNormalizer
            let scanned = try format.scanRanges(file, datasets: datasets, fields: plan.fields, source: source.id) { values, range, candidates throws(DossierError) in
                records += 1
                for i in candidates where plan.passesFilter(i, values) {
                    for (j, (kind, field)) in plan.lookups[i].enumerated() {
                        guard let value = values[field] else { continue }
                        func add(_ text: String) {
                            let normalized = kind != .phone ? context.normalizer.normalize(text, as: kind)
                                : tails ? StandardNormalizer.phoneTail(text) ?? phones.normalize(text, with: context.normalizer)
                                : phones.normalize(text, with: context.normalizer)
                            guard let n = normalized else { return }
                            entries.append(LookupIndex.Entry(key: LookupIndex.key(prefix: prefixes[i][j], value: n),
                                                             offset: range.offset, length: Int32(range.length)))
                        }
                        // A single text is the usual case: no list made for it.
                        if case .string(let text) = value { add(text) } else { value.scalarTexts.forEach(add) }
                    }
                }
            }
            switch scanned {
            case .done(let layout): if let layout { layouts[path] = layout }
            case .notIndexable(let why): return .unsupported("\(file.lastPathComponent): \(why)")
            }
        }
        do {
            try LookupIndex.write(&entries, to: url, definition: definition, stamps: stamps, layouts: layouts)
        } catch {
            throw DossierError(.outputWrite, "cannot write the lookup index of source '\(source.id)'", at: SourceLocation(file: url.path))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return .built(IndexBuild(reason: reason, entries: entries.count, records: records,
                                 bytesRead: paths.reduce(0) { $0 + (stamps[$1]?.size ?? 0) }, seconds: seconds))
    }
}

/// What an index build reads of each record of one file: every `where` path and lookup path of
/// the file's datasets, each once (`fields`), and per dataset which of them it tests and looks up.
/// The same tests as `RecordMatcher.passesFilter` and the same lookups as `RecordMatcher.lookups`,
/// on the values the format gives instead of on whole records.
struct IndexPlan {
    private(set) var fields: [FieldPath] = []
    /// Per dataset: its `where` tests (a field and the text it must hold).
    private(set) var filters: [[(field: Int, value: String)]] = []
    /// Per dataset: its lookups (the identifier kind and the field), in the map's order.
    private(set) var lookups: [[(kind: IdentifierKind, field: Int)]] = []

    init(datasets: [Dataset]) {
        var position: [FieldPath: Int] = [:]
        func field(_ path: FieldPath) -> Int {
            if let k = position[path] { return k }
            fields.append(path)
            position[path] = fields.count - 1
            return fields.count - 1
        }
        for dataset in datasets {
            filters.append(dataset.filter.map { (field($0.path), $0.value) })
            lookups.append(dataset.lookups.map { ($0.kind, field(FieldPath($0.expression))) })
        }
    }

    /// True when the record whose values these are passes dataset `i`'s `where`.
    func passesFilter(_ i: Int, _ values: [Value?]) -> Bool {
        filters[i].allSatisfy { values[$0.field]?.scalarText == $0.value }
    }
}

/// Phone numbers normalised during one index build, by their key (`StandardNormalizer.phoneKey`:
/// the digits, and a leading `+`, of a text written with the usual separators): libphonenumber (its
/// ICU regular expressions) took a third of an XML index build's time, and the same number recurs
/// on many records, written many ways. Normalisation is a pure function of the key, so the
/// remembered value is the one a call gives. A text without a key is remembered by itself when it
/// is ASCII (Swift compares strings by canonical equivalence, which for ASCII is byte equality, so a
/// text never gets another text's value), and not at all otherwise. Bounded: forgotten whenever it
/// holds `limit` entries (100,000 for an index build).
struct PhoneCache {
    private var known: [String: String?] = [:]
    private let limit: Int

    init(limit: Int = 100_000) { self.limit = limit }

    mutating func normalize(_ text: String, with normalizer: any IdentifierNormalizer) -> String? {
        let key: String
        // The key holds for libphonenumber's reading; another normalizer (a test's) keys by text.
        if normalizer is StandardNormalizer, let k = StandardNormalizer.phoneKey(text) { key = k } else {
            guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return normalizer.normalize(text, as: .phone) }
            key = text
        }
        if let n = known[key] { return n }
        let n = normalizer.normalize(text, as: .phone)
        if known.count >= limit { known.removeAll(keepingCapacity: true) }
        known[key] = .some(n)
        return n
    }
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
