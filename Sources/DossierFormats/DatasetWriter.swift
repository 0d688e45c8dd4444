import DossierModel
import Foundation

/// Writes one dataset's records to one file, one record at a time.
public protocol DatasetWriter: AnyObject {
    func write(_ record: Record) throws(DossierError)
    func finish() throws(DossierError)
}

/// What every dataset file states about itself.
public struct DatasetHeader: Sendable {
    public let source: String
    public let dataset: String
    public let count: Int
    /// The CSV columns: the union of the records' (flattened) field names, in first-seen order.
    public let columns: [String]
    public init(source: String, dataset: String, count: Int, columns: [String]) {
        self.source = source; self.dataset = dataset; self.count = count; self.columns = columns
    }
}

/// The version of the bundle's file formats, written into every JSON file.
public let bundleSchemaVersion = 1
