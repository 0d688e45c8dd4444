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

    @Test func xmlFieldsReadOffTheTreeAgreeWithWholeRecords() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("entries.xml")
        try """
        <?xml version="1.0" encoding="UTF-8"?>
        <root xmlns:a="urn:a" xmlns:b="urn:b">
          <r email=" Attr@Example.pl "><email>child@example.pl</email><email>second@example.pl</email></r>
          <r><email><![CDATA[cdata@example.pl]]></email><phone>+48 22 100 00 00</phone></r>
          <r a:id="1" b:id="2"><id>3</id><address><city>Łódź</city><zip code="1"/></address></r>
          <r><address city="attr"><city>x</city><city>y</city></address><email type="work">w@example.pl</email></r>
          <r><email>one<!-- note -->two</email><address>plain</address></r>
          <r>text only</r>
          <r><Kelvin/><email/></r>
        </root>
        """.write(to: file, atomically: true, encoding: .utf8)
        let paths = ["email", "phone", "id", "address.city", "address.zip", "address.zip.code", "address", "missing", "Kelvin"]
            .map(FieldPath.init)
        let names = paths.map { $0.components.map(XMLFormat.Name.init) }
        let dataset = Dataset(id: "r", title: nil, description: nil, path: nil, key: [], lookups: [], yields: [], filter: [],
                              record: "/root/r", purposes: [], recipients: [], retention: nil, origin: .subject, from: nil,
                              fields: [], location: SourceLocation(file: "map.yaml"))
        var records = 0
        let data = Array(try Data(contentsOf: file))
        _ = try XMLFormat().scanRanges(file, datasets: [dataset], fields: paths, source: "s") { values, range, _ throws(DossierError) in
            records += 1
            let bytes = data[Int(range.offset)..<Int(range.offset) + range.length]
            let whole = try XMLFormat().record(from: Array(bytes), range: range, dataset: dataset,
                                               layout: XMLFormat.Layout(encoding: "", namespaces: ["/root/r": #" xmlns:a="urn:a" xmlns:b="urn:b""#]),
                                               file: file, source: "s")
            for (k, path) in paths.enumerated() {
                #expect(Self.seen(values[k]) == Self.seen(whole?.value(at: path)), "\(path) of \(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(records == 7)
        #expect(names.count == paths.count)
    }
}
