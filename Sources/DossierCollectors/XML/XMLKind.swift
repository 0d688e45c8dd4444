import CLibXML2
import CXMLIndex
import DossierMap
import DossierModel
import Foundation

/// `kind: xml`: an XML file, read with libxml2's SAX2 parser (`CXMLIndex`): only one record element
/// is held in memory at a time.
///
/// Its own map key: `record` on each dataset, the absolute path of the record element. Entities are
/// never substituted and the network is never used (`XML_PARSE_NONET`, no `XML_PARSE_NOENT`, no DTD
/// loading); a document whose DTD declares entities is refused. A record is the element the
/// dataset's `record` path names: its attributes and leaf children become text fields, a child with
/// children (or attributes) a nested object, a repeated child a list.
enum XMLKind: FileSourceKind {
    static let name = "xml"
    static let datasetKeys: Set<String> = ["path", "where", "record"]

    static func read(datasetKey key: String, _ value: MapNode, into dataset: inout Dataset) throws(DossierError) {
        guard key == "record" else { return try readFileKey(datasetKey: key, value, into: &dataset) }
        let r = try value.nonEmptyString()
        guard r.hasPrefix("/"), !r.contains("//"), !r.hasSuffix("/"), !r.contains("["), !r.contains("*") else {
            throw value.fail("record must be an absolute element path such as /contests/contest/entry")
        }
        dataset.record = r
    }

    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        try checkFile(dataset: dataset, in: source, at: node)
        if dataset.record == nil { throw node.fail("an xml dataset needs record: the absolute path of its record element") }
    }

    static func format(for source: Source) -> XMLFormat { XMLFormat() }
}

struct XMLFormat: RecordFileFormat {
    /// What reading a record back needs: the encoding the file is decoded from, and per record path
    /// the namespace declarations in scope at its records (the same for every record of a path, or
    /// the file is not indexed).
    struct Layout: Sendable {
        var encoding: String
        var namespaces: [String: String]
    }

    /// libxml2's global state is set up once, before any thread parses.
    static let initialized: Void = { xmlInitParser() }()

    /// Reads the file once with the SAX2 scanner of `CXMLIndex`, which gives each record's exact byte
    /// range with the same tree as the streaming reader.
    func scanRanges(_ file: URL, datasets: [Dataset], fields: [FieldPath], source: String,
                    _ body: ([Value?], ByteRange, [Int]) throws(DossierError) -> Void) throws(DossierError) -> RangeScan {
        var values = [Value?](repeating: nil, count: fields.count)
        // The fields read straight off each record's tree (`value(in:at:)`), unless a path names the
        // `#text` field, which only `fields(of:)` makes.
        let projection = fields.contains { $0.components.contains("#text") } ? nil : fields.map { $0.components.map(Name.init) }
        var paths: [String] = []
        for d in datasets where !paths.contains(d.record ?? "/") { paths.append(d.record ?? "/") }
        let members = paths.map { path in datasets.indices.filter { (datasets[$0].record ?? "/") == path } }
        var declared = [String?](repeating: nil, count: paths.count)   // per path
        var refusal: String?
        func sameNamespaces(_ index: Int, _ declarations: String) -> Bool {
            if let known = declared[index] {
                guard known == declarations else {
                    refusal = "the records at \(paths[index]) stand in different namespace contexts"
                    return false
                }
            } else {
                declared[index] = declarations
            }
            return true
        }
        /// The projected fields read off a record's tree.
        func readTree(_ node: xmlNodePtr, _ projection: [[Name]]) {
            for (k, path) in projection.enumerated() { values[k] = Self.value(in: node, at: path[...]) }
        }
        let end: (encoding: String, notIndexable: String?)
        if let projection, !projection.isEmpty, projection.count <= 64, projection.allSatisfy({ $0.allSatisfy(\.ascii) }) {
            // The fields read off the parser's events (`dossier_xml_scan_fields`), no tree made; a
            // record whose names or values the C side cannot compare byte for byte comes as its tree.
            end = try fieldRecords(file, paths: paths, fields: projection, source: source) { index, read, node, range, declarations throws(DossierError) in
                guard sameNamespaces(index, declarations) else { return false }
                if let read {
                    for k in values.indices { values[k] = read[k] }
                } else if let node {
                    readTree(node, projection)
                }
                try body(values, range, members[index])
                return true
            }
        } else {
            end = try records(file, paths: paths, forIndex: true, source: source) { index, node, range, declarations throws(DossierError) in
                guard sameNamespaces(index, declarations) else { return false }
                if let projection {
                    readTree(node, projection)
                } else {
                    Self.projection(of: Self.fields(of: node), at: fields, into: &values)
                }
                try body(values, range, members[index])
                return true
            }
        }
        if let refusal { return .notIndexable(refusal) }
        if let why = end.notIndexable { return .notIndexable(why) }
        var namespaces: [String: String] = [:]
        for (k, path) in paths.enumerated() { if let d = declared[k] { namespaces[path] = d } }
        let layout = Value.object(Fields([
            ("encoding", .string(end.encoding)),
            ("namespaces", .object(Fields(namespaces.sorted { $0.key < $1.key }.map { ($0.key, Value.string($0.value)) }))),
        ]))
        return .done(layout: layout.jsonText())
    }

    /// Streams the dataset's records: the same SAX2 pass, one record path.
    func scan(_ file: URL, dataset: Dataset, source: String, prefilter: RecordMatcher?,
              _ body: (Record) throws(DossierError) -> Void) throws(DossierError) {
        _ = try records(file, paths: [dataset.record ?? "/"], forIndex: false, source: source) { _, node, _, _ throws(DossierError) in
            try body(Self.fields(of: node))
            return true
        }
    }

    /// One SAX2 pass of `dossier_xml_scan`: `each` gets every record at one of `paths` (its path's
    /// position, its tree, its byte range, the namespace declarations in scope) and says whether to go
    /// on. Entities are never substituted, nothing is fetched; a document with entities is refused.
    private func records(_ file: URL, paths: [String], forIndex: Bool, source: String,
                         _ each: (Int, xmlNodePtr, ByteRange, String) throws(DossierError) -> Bool) throws(DossierError)
        -> (encoding: String, notIndexable: String?) {
        _ = Self.initialized
        var failure: DossierError?
        var status = dossier_xml_status()
        var encoding = [CChar](repeating: 0, count: 64)
        let result: Int32 = withoutActuallyEscaping(each) { each in
            let sink = ScanSink { index, offset, length, node, declarations in
                do throws(DossierError) {
                    return try each(index, node, ByteRange(offset: offset, length: Int(length)), declarations) ? 0 : 1
                } catch {
                    failure = error
                    return 1
                }
            }
            let box = Unmanaged.passUnretained(sink).toOpaque()
            let cPaths = paths.map { strdup($0) }
            defer { cPaths.forEach { free($0) } }
            var pointers = cPaths.map { UnsafePointer($0) }
            return pointers.withUnsafeMutableBufferPointer { list in
                encoding.withUnsafeMutableBufferPointer { enc in
                    dossier_xml_scan(file.path, list.baseAddress, Int32(list.count), forIndex ? UInt32(DOSSIER_XML_FOR_INDEX) : 0, { ctx, index, offset, length, node, declarations in
                        guard let ctx, let node else { return 1 }
                        let sink = Unmanaged<ScanSink>.fromOpaque(ctx).takeUnretainedValue()
                        return sink.call(Int(index), offset, length, node, declarations.map { String(cString: $0) } ?? "")
                    }, box, &status, enc.baseAddress, enc.count)
                }
            }
        }
        if let failure { throw failure }
        return try Self.end(of: result, status: status, encoding: encoding, file: file, source: source)
    }

    /// `records` through `dossier_xml_scan_fields`: `each` gets every record's values at `fields`
    /// (as `value(in:at:)` reads them), or, for a record the scanner cannot read byte for byte, its tree.
    private func fieldRecords(_ file: URL, paths: [String], fields: [[Name]], source: String,
                              _ each: (Int, [Value?]?, xmlNodePtr?, ByteRange, String) throws(DossierError) -> Bool) throws(DossierError)
        -> (encoding: String, notIndexable: String?) {
        _ = Self.initialized
        var failure: DossierError?
        var status = dossier_xml_status()
        var encoding = [CChar](repeating: 0, count: 64)
        var read = [Value?](repeating: nil, count: fields.count)
        let result: Int32 = withoutActuallyEscaping(each) { each in
            let sink = FieldSink { index, offset, length, cFields, node, declarations in
                do throws(DossierError) {
                    let range = ByteRange(offset: offset, length: Int(length))
                    guard let cFields else { return try each(index, nil, node, range, declarations) ? 0 : 1 }
                    for k in read.indices { read[k] = Self.value(of: cFields[k]) }
                    return try each(index, read, nil, range, declarations) ? 0 : 1
                } catch {
                    failure = error
                    return 1
                }
            }
            let box = Unmanaged.passUnretained(sink).toOpaque()
            let cPaths = paths.map { strdup($0) }
            let cComponents = fields.flatMap { $0.map { strdup($0.name) } }
            defer { cPaths.forEach { free($0) }; cComponents.forEach { free($0) } }
            var pointers = cPaths.map { UnsafePointer($0) }
            var components = cComponents.map { UnsafePointer($0) }
            var lengths = fields.map { Int32($0.count) }
            return pointers.withUnsafeMutableBufferPointer { list in
                components.withUnsafeMutableBufferPointer { comps in
                    lengths.withUnsafeMutableBufferPointer { lens in
                        encoding.withUnsafeMutableBufferPointer { enc in
                            dossier_xml_scan_fields(file.path, list.baseAddress, Int32(list.count), UInt32(DOSSIER_XML_FOR_INDEX),
                                                    comps.baseAddress, lens.baseAddress, Int32(lens.count), { ctx, index, offset, length, fields, node, declarations in
                                guard let ctx else { return 1 }
                                let sink = Unmanaged<FieldSink>.fromOpaque(ctx).takeUnretainedValue()
                                return sink.call(Int(index), offset, length, fields, node, declarations.map { String(cString: $0) } ?? "")
                            }, box, &status, enc.baseAddress, enc.count)
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
        return try Self.end(of: result, status: status, encoding: encoding, file: file, source: source)
    }

    /// A field as `dossier_xml_scan_fields` read it, as `value(in:at:)` gives it.
    static func value(of field: dossier_xml_field) -> Value? {
        guard field.count > 0, let items = field.items else { return nil }
        func item(_ i: Int) -> Value {
            guard let text = items[i].text else { return .null }
            return .string(String(decoding: UnsafeRawBufferPointer(start: text, count: items[i].length), as: UTF8.self))
        }
        if field.count == 1 { return item(0) }
        return .array((0..<Int(field.count)).map(item))
    }

    /// What a scan's result and status mean: the encoding and why the file cannot be indexed, or the error.
    private static func end(of result: Int32, status: dossier_xml_status, encoding: [CChar], file: URL, source: String) throws(DossierError)
        -> (encoding: String, notIndexable: String?) {
        let name = String(decoding: encoding.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard result < 0 else { return (name, nil) }
        let message = withUnsafeBytes(of: status.message) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
        let line = status.line > 0 ? Int(status.line) : nil
        switch Int(status.code) {
        case Int(DOSSIER_XML_NOT_INDEXABLE): return (name, message)
        case Int(DOSSIER_XML_REFUSED):
            throw .unreadable("the document's DTD declares entities or an external subset, or it uses an entity reference; Dossier refuses such XML (entity expansion attacks)",
                              file: file, line: line, source: source)
        case Int(DOSSIER_XML_UNREADABLE): throw .unreadable("the file cannot be read", file: file, source: source)
        default: throw .unreadable("the file is not well-formed XML (\(message))", file: file, line: line, source: source)
        }
    }

    func layout(of file: URL, stored: String?, source: String) throws(DossierError) -> Layout {
        guard let stored, case .object(let f)? = try? JSON.parse(stored), let encoding = f["encoding"]?.scalarText,
              case .object(let ns)? = f["namespaces"] else {
            throw .unreadable("the lookup index holds no layout for the file; rebuild the index", file: file, source: source)
        }
        var namespaces: [String: String] = [:]
        for (path, v) in ns { namespaces[path] = v.scalarText ?? "" }
        return Layout(encoding: encoding, namespaces: namespaces)
    }

    func record(from bytes: [UInt8], range: ByteRange, dataset: Dataset, layout: Layout, file: URL, source: String) throws(DossierError) -> Record? {
        _ = Self.initialized
        var status = dossier_xml_status()
        let declarations = layout.namespaces[dataset.record ?? "/"] ?? ""
        guard let node = bytes.withUnsafeBytes({ raw in
            dossier_xml_read_record(raw.baseAddress, raw.count, layout.encoding.isEmpty ? nil : layout.encoding, declarations, &status)
        }) else { return nil }
        defer { dossier_xml_free_record(node) }
        return Self.fields(of: node)
    }

    /// Carries the Swift side of a field scan through the C callback.
    private final class FieldSink {
        let call: (Int, UInt64, UInt64, UnsafePointer<dossier_xml_field>?, xmlNodePtr?, String) -> Int32
        init(_ call: @escaping (Int, UInt64, UInt64, UnsafePointer<dossier_xml_field>?, xmlNodePtr?, String) -> Int32) { self.call = call }
    }

    /// Carries the Swift side of a scan through libxml2's C callback.
    private final class ScanSink {
        let call: (Int, UInt64, UInt64, xmlNodePtr, String) -> Int32
        init(_ call: @escaping (Int, UInt64, UInt64, xmlNodePtr, String) -> Int32) { self.call = call }
    }

    /// The attributes and child elements of an element, as fields.
    static func fields(of node: xmlNodePtr) -> Fields {
        var fields = Fields()
        var attribute = node.pointee.properties
        while let attr = attribute {
            let name = String(cString: attr.pointee.name)
            fields.append(name, .string(content(of: UnsafeMutableRawPointer(attr).assumingMemoryBound(to: xmlNode.self))))
            attribute = attr.pointee.next
        }
        var child = node.pointee.children
        var ownText = ""
        var hasElements = false
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE {
                hasElements = true
                let name = String(cString: c.pointee.name)
                let value = Self.value(of: c)
                switch fields[name] {
                case nil: fields.append(name, value)
                case .array(var items)?: items.append(value); fields[name] = .array(items)
                case let existing?: fields[name] = .array([existing, value])
                }
            } else if c.pointee.type == XML_TEXT_NODE || c.pointee.type == XML_CDATA_SECTION_NODE {
                ownText += content(of: c)
            }
            child = c.pointee.next
        }
        let trimmed = ownText.trimmingCharacters(in: .whitespacesAndNewlines)
        if hasElements || !fields.isEmpty, !trimmed.isEmpty { fields.append("#text", .string(trimmed)) }
        return fields
    }

    /// A path component, and its bytes to compare element and attribute names with.
    struct Name {
        let name: String
        let bytes: [CChar]
        let ascii: Bool
        init(_ name: String) {
            self.name = name
            bytes = Array(name.utf8CString)
            ascii = name.utf8.allSatisfy { $0 < 0x80 }
        }

        /// `String(cString: raw) == name`, without making the string when the bytes decide.
        func matches(_ raw: UnsafePointer<xmlChar>) -> Bool {
            let equalBytes = bytes.withUnsafeBufferPointer { strcmp($0.baseAddress!, UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self)) == 0 }
            if equalBytes { return true }
            // Swift compares strings by canonical equivalence: other bytes can still be the same name
            // when either side is beyond ASCII.
            if ascii {
                var p = raw
                while p.pointee != 0 {
                    if p.pointee >= 0x80 { return String(cString: raw) == name }
                    p += 1
                }
                return false
            }
            return String(cString: raw) == name
        }
    }

    /// What `fields(of: node).value(at: path)` gives, as far as its `scalarText` and `scalarTexts`
    /// go (an object is given as `.null`: neither has any), read off the tree without making the
    /// record's other fields. An index build reads one or two fields of each record; making them
    /// all (every child's text, trimmed through Foundation) was a fifth of its time.
    ///
    /// `fields(of:)` appends the attributes, then each child element, merging children of one name
    /// into the first field of that name (an attribute's included) as a list; a lookup finds the
    /// first field of a name. So a name's value is: the first attribute so named, then every child
    /// element so named; one of them as it is, several as a list.
    static func value(in node: xmlNodePtr, at path: ArraySlice<Name>) -> Value? {
        guard let component = path.first else { return nil }
        var found: [Value] = []
        var only: xmlNodePtr?   // the element, when the one field found is a child element
        var attribute = node.pointee.properties
        while let attr = attribute {
            if component.matches(attr.pointee.name) {
                found.append(.string(content(of: UnsafeMutableRawPointer(attr).assumingMemoryBound(to: xmlNode.self))))
                break
            }
            attribute = attr.pointee.next
        }
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE, component.matches(c.pointee.name) {
                found.append(hasStructure(c) ? .null : .string(content(of: c)))
                only = c
            }
            child = c.pointee.next
        }
        guard !found.isEmpty else { return nil }
        if path.count == 1 { return found.count == 1 ? found[0] : .array(found) }
        // Deeper: only an object (one child element with attributes or children) has fields.
        guard found.count == 1, let element = only, hasStructure(element) else { return nil }
        return value(in: element, at: path.dropFirst())
    }

    /// An element with attributes or child elements: `value(of:)` makes it an object.
    static func hasStructure(_ node: xmlNodePtr) -> Bool {
        if node.pointee.properties != nil { return true }
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE { return true }
            child = c.pointee.next
        }
        return false
    }

    /// A child element: text when it is a leaf without attributes, else an object.
    static func value(of node: xmlNodePtr) -> Value {
        var hasStructure = node.pointee.properties != nil
        var child = node.pointee.children
        while let c = child, !hasStructure {
            if c.pointee.type == XML_ELEMENT_NODE { hasStructure = true }
            child = c.pointee.next
        }
        return hasStructure ? .object(fields(of: node)) : .string(content(of: node))
    }

    static func content(of node: xmlNodePtr) -> String {
        guard let raw = xmlNodeGetContent(node) else { return "" }
        defer { dossier_xml_free(raw) }
        return String(cString: raw)
    }
}
