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
    private var finished = false

    public init(url: URL, header: DatasetHeader) throws(DossierError) {
        self.url = url
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DossierError(.outputUnavailable, "cannot create the file", at: SourceLocation(file: url.path))
        }
        close(fd)
        guard let w = xmlNewTextWriterFilename(url.path, 0) else {
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
        if rc < 0 { throw DossierError(.outputWrite, "cannot write the XML file", at: SourceLocation(file: url.path)) }
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
        // Freeing the writer closes the file: only then is everything on disk.
        xmlFreeTextWriter(writer)
        if ended < 0 { throw DossierError(.outputWrite, "cannot write the XML file", at: SourceLocation(file: url.path)) }
    }
}
