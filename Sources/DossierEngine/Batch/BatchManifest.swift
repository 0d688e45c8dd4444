import DossierArchive
import DossierCollectors
import DossierModel
import Foundation

/// One request of a batch manifest, as given.
public struct BatchRequest: Sendable {
    public var id: String
    /// The identifiers as given: kind and raw text (normalised when the request runs).
    public var identifiers: [(kind: IdentifierKind, text: String)]
    public var kind: RequestKind?
    public var language: String?
    public var format: ArchiveFormat?
    /// When the request arrived and how (`dossier request import`; a batch ignores them).
    public var received: Day?
    public var channel: String?
    /// The line of the manifest it stands on.
    public var line: Int
    /// What is wrong with this request alone (it fails; the others run), or nil.
    public var problem: String?

    /// What decides the request's bundle, for telling a changed request from one already done.
    var digest: String {
        let ids = identifiers.map { "\($0.kind.name)=\($0.text)" }.joined(separator: "\u{1F}")
        return [id, ids, kind?.rawValue ?? "", language ?? "", format?.rawValue ?? ""].joined(separator: "\u{1E}")
    }
}

/// Reads a manifest of requests: CSV with a header, or JSON Lines with one object a line.
///
/// Columns (keys): `request_id` (required), one per identifier kind (`email`, `phone`, or any kind a
/// dataset of the map looks up, such as `crm_id`), and optionally `kind` (access, portability),
/// `language`, `format` (zip, tar.gz, tar.zst), and for `request import` `received` (a date) and
/// `channel`. In CSV, one cell holds several values of its kind
/// separated by `|`; in JSON Lines an identifier is a string, a number, or a list of them. Columns
/// beginning with `x-` are ignored; any other column is an error, as is a request id given twice.
///
/// ```text
/// request_id,email,phone,kind
/// R-1,anna@example.pl|a.nowak@example.com,,access
/// R-2,,+48 22 122 86 17,portability
/// ```
public enum BatchManifest {
    public static let valueSeparator: Character = "|"

    /// The identifier kinds a manifest of this map may name.
    public static func identifierKinds(of map: DataMap) -> Set<String> {
        var kinds: Set<String> = ["email", "phone"]
        for source in map.sources { for dataset in source.datasets { for lookup in dataset.lookups { kinds.insert(lookup.kind.name) } } }
        return kinds
    }

    public static func read(_ url: URL, map: DataMap) throws(DossierError) -> [BatchRequest] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue,
              let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DossierError(.usage, "cannot read the manifest of requests: \(Unreadable.reason(url.path))", at: SourceLocation(file: url.path))
        }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        try? handle.close()
        let ext = url.pathExtension.lowercased()
        let firstByte = head.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        let isJSONLines = ["jsonl", "ndjson", "json"].contains(ext) || (ext != "csv" && firstByte == UInt8(ascii: "{"))
        let kinds = identifierKinds(of: map)
        let requests = isJSONLines ? try readJSONLines(url, kinds: kinds, languages: map.controller.languages)
                                   : try readCSV(url, kinds: kinds, languages: map.controller.languages)
        var seen: [String: Int] = [:]
        for r in requests {
            if let first = seen[r.id] {
                throw DossierError(.usage, "the request id '\(r.id)' is given twice (first on line \(first))",
                                   at: SourceLocation(file: url.path, line: r.line))
            }
            seen[r.id] = r.line
        }
        return requests
    }

    /// Builds one request from its named values; `problem` collects what fails this request alone.
    /// An unknown column is an error of the whole manifest, reported at `location`.
    static func request(line: Int, values: [(name: String, values: [String])], kinds: Set<String>, languages: [String],
                        location: SourceLocation) throws(DossierError) -> BatchRequest {
        var r = BatchRequest(id: "", identifiers: [], kind: nil, language: nil, format: nil, received: nil, channel: nil,
                             line: line, problem: nil)
        var problems: [String] = []
        for (name, given) in values {
            let texts = given.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            switch name {
            case "request_id": r.id = texts.first ?? ""
            case "kind":
                guard let t = texts.first else { continue }
                if let k = RequestKind(rawValue: t) { r.kind = k } else { problems.append("kind '\(t)' is neither access nor portability") }
            case "format":
                guard let t = texts.first else { continue }
                if let f = ArchiveFormat(rawValue: t) { r.format = f } else { problems.append("format '\(t)' is not zip, tar.gz or tar.zst") }
            case "received":
                guard let t = texts.first else { continue }
                if let d = Day(t) { r.received = d } else { problems.append("received '\(t)' is not a date such as 2026-01-31") }
            case "channel": r.channel = texts.first
            case "language":
                guard let t = texts.first else { continue }
                if languages.contains(t) { r.language = t } else { problems.append("the data map offers the languages \(languages.joined(separator: ", ")), not '\(t)'") }
            default:
                if name.hasPrefix("x-") { continue }
                guard kinds.contains(name) else {
                    throw DossierError(.usage, "unknown column '\(name)': expected request_id, kind, language, format, received, channel or an identifier kind of the map (\(kinds.sorted().joined(separator: ", ")))", at: location)
                }
                r.identifiers += texts.map { (IdentifierKind(name), $0) }
            }
        }
        if r.id.isEmpty {
            problems.insert("the request has no request_id", at: 0)
            r.id = "line-\(line)"
        } else if r.id.count > ExportRequest.maxRequestIDLength {
            problems.insert("the request id is longer than \(ExportRequest.maxRequestIDLength) characters", at: 0)
        } else if !ExportRequest.isValidRequestID(r.id) {
            problems.insert("the request id may hold only letters, digits, '.', '_' and '-' (and not start with a dot)", at: 0)
        }
        if r.identifiers.isEmpty { problems.append("the request names no identifier of the person") }
        r.problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
        return r
    }

    static func readCSV(_ url: URL, kinds: Set<String>, languages: [String]) throws(DossierError) -> [BatchRequest] {
        let reader: CSVRowReader
        do { reader = try CSVRowReader(url: url, delimiter: UInt8(ascii: ",")) } catch {
            throw DossierError(.usage, "cannot read the manifest of requests: \(Unreadable.reason(url.path))", at: SourceLocation(file: url.path))
        }
        func next() throws(DossierError) -> [String]? {
            do { return try reader.nextRow() } catch {
                switch error {
                case .unterminatedQuote(let line): throw DossierError(.usage, "a quoted cell that begins on this line never ends", at: SourceLocation(file: url.path, line: line))
                case .invalidUTF8(let line): throw DossierError(.usage, "the line is not UTF-8 text", at: SourceLocation(file: url.path, line: line))
                case .cellTooLong(let line): throw DossierError(.usage, "a cell is longer than \(CSVRowReader.maxCell >> 20) MiB", at: SourceLocation(file: url.path, line: line))
                case .unreadable: throw DossierError(.usage, "the manifest cannot be read", at: SourceLocation(file: url.path, line: reader.line))
                }
            }
        }
        guard let header = try next()?.map({ $0.trimmingCharacters(in: .whitespaces) }), header != [""] else {
            throw DossierError(.usage, "the manifest is empty: expected a header such as request_id,email", at: SourceLocation(file: url.path, line: 1))
        }
        guard header.contains("request_id") else {
            throw DossierError(.usage, "the header has no request_id column", at: SourceLocation(file: url.path, line: 1))
        }
        if let dup = Dictionary(grouping: header, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw DossierError(.usage, "the header names the column '\(dup)' twice", at: SourceLocation(file: url.path, line: 1))
        }
        var requests: [BatchRequest] = []
        while let row = try next() {
            if row.count == 1 && row[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let location = SourceLocation(file: url.path, line: reader.rowLine)
            guard row.count == header.count else {
                throw DossierError(.usage, "line has \(row.count) cells where the header has \(header.count)", at: location)
            }
            let values = zip(header, row).map { (name: $0.0, values: $0.1.split(separator: valueSeparator).map(String.init)) }
            requests.append(try request(line: reader.rowLine, values: values, kinds: kinds, languages: languages,
                                        location: SourceLocation(file: url.path, line: 1)))
        }
        return requests
    }

    static func readJSONLines(_ url: URL, kinds: Set<String>, languages: [String]) throws(DossierError) -> [BatchRequest] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw DossierError(.usage, "the manifest is not UTF-8 text", at: SourceLocation(file: url.path))
        }
        var requests: [BatchRequest] = []
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(raw)
            if lineNumber == 1, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            let location = SourceLocation(file: url.path, line: lineNumber)
            let value: Value
            do { value = try JSON.parse(String(line)) } catch {
                throw DossierError(.usage, "line is not JSON (\(error.message) at column \(error.column))", at: location)
            }
            guard case .object(let fields) = value else { throw DossierError(.usage, "line is not a JSON object", at: location) }
            var values: [(name: String, values: [String])] = []
            for (name, v) in fields {
                let texts: [String]
                switch v {
                case .array(let items): texts = items.compactMap(\.scalarText)
                case .null: texts = []
                default: texts = v.scalarText.map { [$0] } ?? []
                }
                values.append((name, texts))
            }
            requests.append(try request(line: lineNumber, values: values, kinds: kinds, languages: languages, location: location))
        }
        return requests
    }
}
