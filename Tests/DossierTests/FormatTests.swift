import DossierFormats
import DossierModel
import Foundation
import Testing

@Suite struct FormatTests {
    @Test(arguments: [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+48 22 122 86 17", "'+48 22 122 86 17"),
        ("+48221228617", "+48221228617"),
        ("-12.50", "-12.50"),
        ("-1-2", "'-1-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("-.5", "-.5"), ("+3.", "+3."), ("-1e10", "-1e10"), ("-1E+3", "-1E+3"), ("+.", "'+."), ("-", "'-"),
        ("-1e", "'-1e"), ("-e5", "'-e5"), ("-12\n", "'-12\n"), ("=1", "'=1"), ("-1.2.3", "'-1.2.3"),
    ])
    func csvCellsThatWouldRunAreNeutralised(_ pair: (String, String)) {
        #expect(CSVDatasetWriter.neutralised(pair.0) == pair.1)
    }

    @Test(arguments: [
        ("plain", false, "plain"), ("", true, ""), ("a,b", false, "\"a,b\""), ("say \"hi\"", false, "\"say \"\"hi\"\"\""),
        ("\"", false, "\"\"\"\""), ("line\nbreak", false, "\"line\nbreak\""), ("cr\r\nlf", false, "\"cr\r\nlf\""),
        ("=1+2", true, "'=1+2"), ("=1,2", true, "\"'=1,2\""), ("-12.50", true, "-12.50"), ("=1", false, "=1"),
        ("Łódź, \"Śródmieście\"", true, "\"Łódź, \"\"Śródmieście\"\"\""),
        // A comma or quote followed by a combining mark: one Character to Swift, a separator to a reader.
        ("a,\u{301}b", false, "\"a,\u{301}b\""), ("\"\u{301}", false, "\"\"\"\u{301}\""),
    ])
    func csvCellsAreQuotedByteByByte(_ c: (String, Bool, String)) {
        #expect(CSVDatasetWriter.quoted(c.0, neutralising: c.1) == c.2)
    }

    @Test func csvIsRFC4180WithDottedColumns() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let record = Fields([("id", .number("1")), ("note", .string("a \"quoted\", text\nline")),
                             ("billing", .object(Fields([("city", .string("Łódź"))]))), ("tags", .array([.string("x")])), ("gone", .null)])
        let url = dir.appendingPathComponent("d.csv")
        let columns = CSVDatasetWriter.columns(of: record)
        #expect(columns == ["id", "note", "billing.city", "tags", "gone"])
        let w = try CSVDatasetWriter(url: url, header: DatasetHeader(source: "s", dataset: "d", count: 1, columns: columns))
        try w.write(record)
        try w.finish()
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text == "id,note,billing.city,tags,gone\r\n1,\"a \"\"quoted\"\", text\nline\",Łódź,\"[\"\"x\"\"]\",\r\n")
    }

    @Test func jsonDatasetFileHasItsHeaderAndRecords() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("d.json")
        let w = try JSONDatasetWriter(url: url, header: DatasetHeader(source: "crm", dataset: "contacts", count: 2, columns: []))
        try w.write(Fields([("id", .number("1")), ("amount", .number("12.50"))]))
        try w.write(Fields([("id", .number("2")), ("photo", .binary(Data([1, 2, 3])))]))
        try w.finish()
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text == "{\"schema_version\":1,\"source\":\"crm\",\"dataset\":\"contacts\",\"count\":2,\"records\":[\n{\"id\":1,\"amount\":12.50},\n{\"id\":2,\"photo\":{\"base64\":\"AQID\"}}\n]}\n")
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func xmlKeepsNamesThatAreNoXMLNames() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("d.xml")
        let w = try XMLDatasetWriter(url: url, header: DatasetHeader(source: "list", dataset: "subs", count: 1, columns: []))
        try w.write(Fields([("Email Address", .string("a<b>&c")), ("ctl", .string("bell\u{07}")), ("n", .null),
                            ("tags", .array([.string("x"), .string("y")]))]))
        try w.finish()
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("<field name=\"Email Address\">a&lt;b&gt;&amp;c</field>"))
        #expect(text.contains("<field name=\"ctl\" encoding=\"base64\">YmVsbAc=</field>"))
        #expect(text.contains("<field name=\"n\" null=\"true\"></field>"))
        #expect(text.contains("<item>x</item>"))
        #expect(text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<dataset schema_version=\"1\" source=\"list\" name=\"subs\" count=\"1\">"))
    }
}
