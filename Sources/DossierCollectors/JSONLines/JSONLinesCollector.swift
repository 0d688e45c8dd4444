import DossierModel
import Foundation

/// Reads a JSON Lines file: one JSON object a line, streamed. Values keep their JSON types, numbers
/// their text; `where` selects one kind of record in a file that holds several.
public final class JSONLinesCollector: FileCollector {
    public static let kind = "jsonl"
    let source: Source
    let context: CollectorContext

    public init(source: Source, context: CollectorContext) throws(DossierError) {
        self.source = source
        self.context = context
        try Self.checkFiles(of: source, in: context)
    }

    public func check(_ dataset: Dataset) throws(DossierError) -> [String] { try fieldNames(of: dataset) }

    func scan(_ dataset: Dataset, _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        let file = context.file(of: dataset, in: source)
        let reader: LineReader
        do { reader = try LineReader(url: file) } catch {
            throw .unreadable("the file cannot be opened", file: file, source: source.id)
        }
        while true {
            let next: ArraySlice<UInt8>?
            do { next = try reader.next() } catch {
                throw .unreadable("the file cannot be read", file: file, line: reader.lineNumber + 1, source: source.id)
            }
            guard var line = next else { break }
            if reader.lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let value: Value
            do { value = try JSON.parse(line) } catch {
                throw .unreadable("line is not JSON (\(error.message) at column \(error.column))", file: file, line: reader.lineNumber, source: source.id)
            }
            guard case .object(let record) = value else {
                throw .unreadable("line is not a JSON object", file: file, line: reader.lineNumber, source: source.id)
            }
            try body(record)
        }
    }
}
