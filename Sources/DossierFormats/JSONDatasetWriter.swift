import DossierModel
import Foundation

/// `data/<source>/<dataset>.json`: `{"schema_version", "source", "dataset", "count", "records": […]}`,
/// one record a line, keys in the source's order, numbers as the source wrote them.
public final class JSONDatasetWriter: DatasetWriter {
    private let file: OutputFile
    private var first = true

    public convenience init(url: URL, header: DatasetHeader) throws(DossierError) {
        try self.init(file: OutputFile(url: url), header: header)
    }

    /// Writes into `file` (closed by `finish()`).
    public init(file: OutputFile, header: DatasetHeader) throws(DossierError) {
        self.file = file
        var head = "{\"schema_version\":\(bundleSchemaVersion),\"source\":"
        JSON.appendQuoted(header.source, to: &head)
        head += ",\"dataset\":"
        JSON.appendQuoted(header.dataset, to: &head)
        head += ",\"count\":\(header.count),\"records\":["
        try file.write(head)
    }

    private var line: [UInt8] = []

    public func write(_ record: Record) throws(DossierError) {
        line.removeAll(keepingCapacity: true)
        if !first { line.append(UInt8(ascii: ",")) }
        line.append(0x0A)
        Value.object(record).appendJSON(to: &line)
        try file.write(bytes: line)
        first = false
    }

    public func finish() throws(DossierError) {
        try file.write(first ? "]}\n" : "\n]}\n")
        try file.close()
    }
}
