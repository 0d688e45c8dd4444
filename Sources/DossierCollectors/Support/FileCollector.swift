import DossierModel
import Foundation

/// What the file collectors (`csv`, `jsonl`, `xml`) share: every dataset's file must be readable when
/// the source opens, and a lookup is one streamed scan of the file, matching each record against all
/// wanted identifiers at once.
protocol FileCollector: Collector {
    var source: Source { get }
    var context: CollectorContext { get }
    /// Streams every record of the dataset's file, in file order.
    func scan(_ dataset: Dataset, _ body: (Record) throws(DossierError) -> Void) throws(DossierError)
}

extension FileCollector {
    /// Throws `.sourceUnreadable` naming the first dataset file that cannot be read.
    static func checkFiles(of source: Source, in context: CollectorContext) throws(DossierError) {
        for dataset in source.datasets {
            let file = context.file(of: dataset, in: source)
            guard FileManager.default.isReadableFile(atPath: file.path) else {
                throw .unreadable("the file does not exist or cannot be read", file: file, source: source.id)
            }
        }
    }

    public func find(in dataset: Dataset, identifiers: [Identifier],
                     found: (Record, Identifier) throws(DossierError) -> Void) throws(DossierError) {
        let matcher = RecordMatcher(dataset: dataset, identifiers: identifiers, normalizer: context.normalizer)
        if matcher.isEmpty { return }
        try scan(dataset) { record throws(DossierError) in
            for id in matcher.matches(record) { try found(record, id) }
        }
    }

    /// The field names of the records the dataset selects (`where`), in first-seen order.
    func fieldNames(of dataset: Dataset) throws(DossierError) -> [String] {
        let matcher = RecordMatcher(dataset: dataset, identifiers: [], normalizer: context.normalizer)
        var names: [String] = []
        var known: Set<String> = []
        try scan(dataset) { record throws(DossierError) in
            guard matcher.passesFilter(record) else { return }
            for name in record.names where known.insert(name).inserted { names.append(name) }
        }
        return names
    }
}
