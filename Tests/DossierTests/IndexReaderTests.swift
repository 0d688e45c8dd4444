import CXMLIndex
@testable import DossierCollectors
import DossierModel
import Foundation
import Testing

/// The readers an index build uses instead of building whole records (`JSONProjection`,
/// `CSVCellScanner`, XML's `value(in:at:)`) against the general path on tricky inputs: the same
/// values (as far as `scalarText` and `scalarTexts` go), cells, byte ranges, lines and failures.
@Suite struct IndexReaderTests {
    /// What an index reads of a value: its text for `where`, its texts for a lookup.
    static func seen(_ v: Value?) -> String {
        guard let v else { return "absent" }
        return "\(v.scalarText ?? "-")|\(v.scalarTexts)"
    }

    @Test func jsonProjectionAgreesWithTheParser() throws {
        let paths = ["email", "id", "type", "billing.city", "billing", "a.b.c", "tags", "K", "é"].map(FieldPath.init)
        let lines = [
            #"{"email": "Anna@Example.pl", "id": 17, "type": "enrolment"}"#,
            #"{"email": "a\"b@example.pl", "id": "17"}"#,                       // an escape: general path
            #"{"em\u0061il": "x@example.pl"}"#,                                  // an escaped key
            #"{"note": "email", "email": null, "id": -1.5e3}"#,
            #"{"email": "first", "email": "second"}"#,                           // the last key wins
            #"{"billing": {"city": "Łódź", "zip": "90-001"}, "billing": 3}"#,
            #"{"billing": 3, "billing": {"city": "Kraków"}}"#,
            #"{"billing": {"city": {"name": "x"}}}"#,
            #"{"a": {"b": {"c": [1, "two", true, null, {"x": 1}, [2]]}}}"#,
            #"{"tags": ["x@example.pl", "Y@EXAMPLE.PL"], "type": false}"#,
            #"{"\#u{212A}": "kelvin", "é": "precomposed"}"#,                     // canonical equivalence
            #"{"e\#u{301}": "decomposed"}"#,
            #"  { "email" : "spaced@example.pl" , "id" : 0 }  "#,
            #"{}"#, #"[]"#, #""text""#, #"{"id": 01}"#, #"{"id": 1.}"#, #"{"id": -}"#,
            #"{"email": "x""#, #"{"email": "x"} trailing"#, "{\"email\": \"tab\tinside\"}",
            #"{"id": tru}"#, #"{"id": 1,}"#, #"{,}"#, #"{"a" 1}"#, #"{"deep": [[[[[[1]]]]]]}"#,
            "{\"bad\": \"\u{FFFD}\"}",
        ]
        var raw = lines.map { Array($0.utf8) }
        raw.append(Array(#"{"email": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))   // invalid UTF-8
        raw.append(Array(#"{"email": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8)) // a surrogate
        raw.append(Array(#"{"id": ""#.utf8) + [0xF0, 0x9F, 0x98, 0x80] + Array(#""}"#.utf8))
        let projection = JSONProjection(paths)
        var values = [Value?](repeating: nil, count: paths.count)
        var projected = 0
        for line in raw {
            let parsed = try? JSON.parse(line[...])
            if projection.project(line[...], into: &values) {
                projected += 1
                guard case .object(let record)? = parsed else {
                    Issue.record("projected a line the parser refuses: \(String(decoding: line, as: UTF8.self))")
                    continue
                }
                for (k, path) in paths.enumerated() {
                    #expect(Self.seen(values[k]) == Self.seen(record.value(at: path)),
                            "\(path) of \(String(decoding: line, as: UTF8.self))")
                }
            }
        }
        #expect(projected >= 12)
    }

    /// Rows as `CSVRowReader` reads them: cells, start lines, byte ranges, failures.
    static func rowsByReader(_ bytes: [UInt8]) -> [String] {
        let reader = CSVRowReader(bytes: bytes, delimiter: UInt8(ascii: ";"))
        var out: [String] = []
        do {
            while let row = try reader.nextRow() {
                out.append("\(reader.rowLine) \(reader.rowOffset)-\(reader.offset) \(row)")
            }
        } catch { out.append("failed \(error)") }
        return out
    }

    static func rowsByScanner(_ bytes: [UInt8]) -> [String] {
        let scanner = CSVCellScanner(bytes: bytes, delimiter: UInt8(ascii: ";"))
        var out: [String] = []
        do {
            while let n = try scanner.nextRow() {
                let row = (0..<n).map { scanner.cell($0) }
                #expect((0..<n).map { scanner.cellIsEmpty($0) } == row.map(\.isEmpty))
                out.append("\(scanner.rowLine) \(scanner.rowOffset)-\(scanner.offset) \(row)")
            }
        } catch { out.append("failed \(error)") }
        return out
    }

    @Test func csvScannerAgreesWithTheRowReader() {
        let texts = [
            "\u{FEFF}Email;Note\r\na@example.pl;\"two\r\nlines\"\r\nb@example.pl;plain",
            "a;b\n\"x;y\";\"say \"\"hi\"\"\"\n\"q\"tail;=HYPERLINK(\"u\")\n",
            "a;b\r\r\n;\n\"\"\n;;\n\"\";\"\"\"\"\n",
            "a;b\n\"never ends;x\nmore",
            "a;b\nc;\"d\"\"\n",
            "\u{FEFF}", "", "\n", "\r", "a", "a;", "\"\"", "\"a\"\"b\"c\"d;e\r",
            "Zażółć;gęślą\njaźń;\"żółw\nłoś\"\r\n",
        ]
        var inputs = texts.map { Array($0.utf8) }
        inputs.append(Array("a;b\n".utf8) + [0xC3, 0x28] + Array(";x\n".utf8))               // invalid UTF-8
        inputs.append(Array("a;b\n\"".utf8) + [0xC3] + Array("\"".utf8) + [0xA9] + Array(";x\n".utf8)) // é split by a quote
        inputs.append(Array("a;b\n".utf8) + [0xFF] + Array(";\"open\n".utf8))                // both failures
        for bytes in inputs {
            #expect(Self.rowsByScanner(bytes) == Self.rowsByReader(bytes), "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
    }

    @Test func csvScannerReadsRowsAcrossItsBuffer() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("big.csv")
        // Rows longer than the first buffer (256 KiB), quoted line breaks and CR LF at every boundary.
        var text = "Email;Note\r\n"
        for i in 0..<20_000 {
            text += i % 997 == 0 ? "p\(i)@example.pl;\"\(String(repeating: "x\r\n\"\"", count: 40_000))\"\r\n"
                                 : "p\(i)@example.pl;\"n;\(i)\"\r\n"
        }
        try Data(text.utf8).write(to: file)
        let scanner = try CSVCellScanner(url: file, delimiter: UInt8(ascii: ";"))
        let reader = try CSVRowReader(url: file, delimiter: UInt8(ascii: ";"))
        var rows = 0
        while let n = try scanner.nextRow() {
            let row = try #require(try reader.nextRow())
            #expect((0..<n).map { scanner.cell($0) } == row)
            #expect(scanner.rowOffset == reader.rowOffset && scanner.offset == reader.offset && scanner.rowLine == reader.rowLine)
            rows += 1
        }
        #expect(try reader.nextRow() == nil)
        #expect(rows == 20_001)
    }

    /// Records that the field scanner (`dossier_xml_scan_fields`) must read as the trees do: attributes
    /// and children of one name, repeated children, CDATA, comments and instructions inside a value,
    /// '&' escaped in attributes, namespaces, a record path inside a record, empty and structured
    /// elements, and a name with a Kelvin sign (U+212A), which Swift finds equal to "Kelvin".
    static let trickyXML = """
      <r email=" Attr@Example.pl "><email>child@example.pl</email><email>second@example.pl</email></r>
      <r><email><![CDATA[cdata@example.pl]]></email><phone>+48 22 100 00 00</phone></r>
      <r a:id="1" b:id="2"><id>3</id><address><city>Łódź</city><zip code="1"/></address></r>
      <r><address city="attr"><city>x</city><city>y</city></address><email type="work">w@example.pl</email></r>
      <r><email>one<!-- note -->two<?pi x?>three</email><address>plain</address></r>
      <r>text only</r>
      <r><\u{212A}elvin>kelvin sign</\u{212A}elvin><email/></r>
      <r email="a&amp;b@example.pl" phone="&#38;&#x26;&lt;&#9;1&gt;"><id xmlns="urn:c">7</id></r>
      <r id="attr-first"><id>then-child</id><address><city a="1">structured</city></address></r>
      <r><address><city>one</city></address><address><city>two</city></address></r>
      <r><address><street>s</street><city> spaced	</city></address><r><email>inner@example.pl</email></r></r>
      <r><a:email>prefixed@example.pl</a:email><Email>case@example.pl</Email></r>
      <r><address city="attr-only"/><phone><![CDATA[+48]]> 22 <![CDATA[100]]></phone></r>
    """

    @Test(arguments: ["UTF-8", "UTF-16"])
    func xmlFieldsReadOffTheTreeAgreeWithWholeRecords(_ encoding: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("entries.xml")
        let text = """
        <?xml version="1.0" encoding="\(encoding)"?>
        <root xmlns:a="urn:a" xmlns:b="urn:b">
        \(Self.trickyXML)
        </root>
        """
        try text.write(to: file, atomically: true, encoding: encoding == "UTF-8" ? .utf8 : .utf16)
        let paths = ["email", "phone", "id", "address.city", "address.zip", "address.zip.code", "address", "missing", "Kelvin",
                     "address.street", "Email"].map(FieldPath.init)
        // The same fields through the tree (a "#text" path makes the scan build every record's tree).
        let throughTrees = paths + [FieldPath("#text")]
        let dataset = Dataset(id: "r", title: nil, description: nil, path: nil, key: [], lookups: [], yields: [], filter: [],
                              record: "/root/r", purposes: [], recipients: [], retention: nil, origin: .subject, from: nil,
                              fields: [], location: SourceLocation(file: "map.yaml"))
        var projected: [[String]] = [], built: [[String]] = []
        var ranges: [ByteRange] = []
        let scan = try XMLFormat().scanRanges(file, datasets: [dataset], fields: paths, source: "s") { values, range, _ throws(DossierError) in
            projected.append(values.map(Self.seen))
            ranges.append(range)
        }
        _ = try XMLFormat().scanRanges(file, datasets: [dataset], fields: throughTrees, source: "s") { values, _, _ throws(DossierError) in
            built.append(values.dropLast().map(Self.seen))
        }
        guard case .done(let stored) = scan else { Issue.record("not indexable"); return }
        let layout = try XMLFormat().layout(of: file, stored: stored, source: "s")
        let data = Array(try Data(contentsOf: file))
        #expect(projected.count == 13)
        #expect(projected == built)
        for (i, range) in ranges.enumerated() {
            let bytes = Array(data[Int(range.offset)..<Int(range.offset) + range.length])
            let whole = try XMLFormat().record(from: bytes, range: range, dataset: dataset, layout: layout, file: file, source: "s")
            for (k, path) in paths.enumerated() {
                #expect(projected[i][k] == Self.seen(whole?.value(at: path)), "\(path) of record \(i + 1)")
            }
        }
        // Spot checks of what the comparison above relies on.
        #expect(projected[0][0] == "-|[\" Attr@Example.pl \", \"child@example.pl\", \"second@example.pl\"]")
        #expect(projected[4][0] == "onetwothree|[\"onetwothree\"]")
        #expect(projected[6][8] == "kelvin sign|[\"kelvin sign\"]")
        #expect(projected[7][0] == "a&b@example.pl|[\"a&b@example.pl\"]")
        #expect(projected[7][1] == "&&<\t1>|[\"&&<\\t1>\"]")
        #expect(projected[12][1] == "+48 22 100|[\"+48 22 100\"]")
    }

    /// The field scanner reads every record but those it cannot compare byte for byte (here the
    /// Kelvin sign's) without a tree.
    @Test func xmlFieldScannerBuildsNoTreeForPlainRecords() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("entries.xml")
        try "<root xmlns:a=\"urn:a\" xmlns:b=\"urn:b\">\(Self.trickyXML)</root>".write(to: file, atomically: true, encoding: .utf8)
        _ = XMLFormat.initialized
        final class Counts { var fields = 0, trees = 0 }
        let counts = Counts()
        var status = dossier_xml_status()
        let path = strdup("/root/r")!, email = strdup("email")!, kelvin = strdup("Kelvin")!
        defer { free(path); free(email); free(kelvin) }
        var paths: [UnsafePointer<CChar>?] = [UnsafePointer(path)]
        var components: [UnsafePointer<CChar>?] = [UnsafePointer(email), UnsafePointer(kelvin)]
        var lengths: [Int32] = [1, 1]
        let result = dossier_xml_scan_fields(file.path, &paths, 1, 0, &components, &lengths, 2, { ctx, _, _, _, fields, node, _ in
            let counts = Unmanaged<Counts>.fromOpaque(ctx!).takeUnretainedValue()
            if fields != nil, node == nil { counts.fields += 1 } else if fields == nil, node != nil { counts.trees += 1 }
            return 0
        }, Unmanaged.passUnretained(counts).toOpaque(), &status, nil, 0)
        #expect(result == 0)
        #expect(counts.fields == 12)
        #expect(counts.trees == 1)
    }
}
