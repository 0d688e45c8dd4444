import CLibXML2
import DossierModel
import Foundation

/// `data/<source>/<dataset>.xml`, written with libxml2's text writer (which escapes text and
/// attribute values):
///
/// ```xml
/// <dataset source="crm" name="contacts" count="1">
///   <record><field name="Email Address">anna@example.pl</field></record>
/// </dataset>
/// ```
///
/// Field names stand in attributes, so names that are no XML names need no mangling; nested
/// values are nested `<field>`s, list elements `<item>`s, null `null="true"`. Text that XML 1.0
/// cannot carry (control characters) and binaries are written base64 with `encoding="base64"`.
public final class XMLDatasetWriter: DatasetWriter {
    private let writer: xmlTextWriterPtr
    private let url: URL
    private let sink: Sink
    private var finished = false

    /// Where libxml2's output goes: the file, and the first error writing it.
    private final class Sink {
        let file: OutputFile
        var error: DossierError?
        init(_ file: OutputFile) { self.file = file }
    }

    public convenience init(url: URL, header: DatasetHeader) throws(DossierError) {
        try self.init(file: OutputFile(url: url), header: header)
    }

    /// Writes into `file` (closed by `finish()`).
    public init(file: OutputFile, header: DatasetHeader) throws(DossierError) {
        url = file.url
        sink = Sink(file)
        let write: xmlOutputWriteCallback = { context, bytes, length in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            guard sink.error == nil else { return -1 }
            do throws(DossierError) { try sink.file.write(bytes: UnsafeRawBufferPointer(start: bytes, count: Int(length))) } catch {
                sink.error = error
                return -1
            }
            return length
        }
        guard let output = xmlOutputBufferCreateIO(write, nil, Unmanaged.passUnretained(sink).toOpaque(), nil),
              let w = xmlNewTextWriter(output) else {
            throw DossierError(.outputUnavailable, "cannot create the XML writer", at: SourceLocation(file: url.path))
        }
        writer = w
        xmlTextWriterSetIndent(writer, 1)
        xmlTextWriterSetIndentString(writer, "  ")
        try check(xmlTextWriterStartDocument(writer, "1.0", "UTF-8", nil))
        try check(xmlTextWriterStartElement(writer, "dataset"))
        try check(xmlTextWriterWriteAttribute(writer, "schema_version", String(bundleSchemaVersion)))
        try check(xmlTextWriterWriteAttribute(writer, "source", header.source))
        try check(xmlTextWriterWriteAttribute(writer, "name", header.dataset))
        try check(xmlTextWriterWriteAttribute(writer, "count", String(header.count)))
    }

    deinit { if !finished { xmlFreeTextWriter(writer) } }

    private func check(_ rc: Int32) throws(DossierError) {
        if rc < 0 { throw sink.error ?? DossierError(.outputWrite, "cannot write the XML file", at: SourceLocation(file: url.path)) }
    }

    public func write(_ record: Record) throws(DossierError) {
        try check(xmlTextWriterStartElement(writer, "record"))
        for (name, value) in record { try write(value, element: "field", name: name) }
        try check(xmlTextWriterEndElement(writer))
    }

    private func write(_ value: Value, element: String, name: String?) throws(DossierError) {
        try check(xmlTextWriterStartElement(writer, element))
        if let name { try check(xmlTextWriterWriteAttribute(writer, "name", name)) }
        switch value {
        case .null: try check(xmlTextWriterWriteAttribute(writer, "null", "true"))
        case .bool(let b): try text(b ? "true" : "false")
        case .number(let n): try text(n)
        case .string(let s):
            if Self.isXMLText(s) { try text(s) } else {
                try check(xmlTextWriterWriteAttribute(writer, "encoding", "base64"))
                try text(Data(s.utf8).base64EncodedString())
            }
        case .binary(let d):
            try check(xmlTextWriterWriteAttribute(writer, "encoding", "base64"))
            try text(d.base64EncodedString())
        case .object(let fields):
            for (n, v) in fields { try write(v, element: "field", name: n) }
        case .array(let items):
            for item in items { try write(item, element: "item", name: nil) }
        }
        try check(xmlTextWriterFullEndElement(writer))
    }

    private func text(_ s: String) throws(DossierError) { try check(xmlTextWriterWriteString(writer, s)) }

    /// True when every character may stand in XML 1.0 text.
    static func isXMLText(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy { c in
            c == "\t" || c == "\n" || c == "\r" || (c.value >= 0x20 && c.value <= 0xD7FF)
                || (c.value >= 0xE000 && c.value <= 0xFFFD) || c.value >= 0x10000
        }
    }

    public func finish() throws(DossierError) {
        guard !finished else { return }
        finished = true
        let ended = xmlTextWriterEndDocument(writer)
        // Freeing the writer flushes its output buffer: only then has the file every byte.
        xmlFreeTextWriter(writer)
        if let error = sink.error { throw error }
        if ended < 0 { throw DossierError(.outputWrite, "cannot write the XML file", at: SourceLocation(file: url.path)) }
        try sink.file.close()
    }
}
