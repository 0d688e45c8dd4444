@testable import DossierFormats
import DossierModel
import Foundation
import Testing

@Suite struct SpreadsheetTests {
    @Test func columnsAreLetteredAsSpreadsheetsDo() {
        let pairs = [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA"), (16_383, "XFD")]
        for (column, letters) in pairs {
            #expect(String(decoding: XLSXDatasetWriter.columnLetters(column), as: UTF8.self) == letters)
        }
    }

    @Test func textIsEscapedForXMLAndForSpreadsheetReaders() {
        var out: [UInt8] = []
        XLSXDatasetWriter.appendText("a&b<c>d\te\nf\rg\u{1}h_x0041_i_x12_j\u{FFFE}\u{FFFF}łż😀", to: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == "a&amp;b&lt;c&gt;d\te\nf_x000D_g_x0001_h_x005F_x0041_i_x12_j_xFFFE__xFFFF_łż😀")
    }

    @Test func overLongTextIsCutWithAMark() {
        #expect(XLSXDatasetWriter.fitted("ż") == "ż")
        let cut = XLSXDatasetWriter.fitted(String(repeating: "ż", count: 40_000))
        #expect(cut.unicodeScalars.count == 32_767 && cut.hasSuffix(" […]"))
        #expect(XLSXDatasetWriter.fitted("a\u{0}b") == "a\u{FFFD}b")
    }

    /// Records beyond a sheet's rows continue on further sheets, each with the header, each named in
    /// the workbook; read back by bsdtar (libarchive's own reader, a separate program).
    @Test func recordsBeyondASheetContinueOnTheNext() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("d.xlsx")
        let header = DatasetHeader(source: "s", dataset: "orders", count: 5, columns: ["id", "ok"])
        let w = try XLSXDatasetWriter(url: url, header: header, created: Date(timeIntervalSince1970: 1_780_000_000), rowsPerSheet: 3)
        for i in 1...5 { try w.write(Fields([("id", .number(String(i))), ("ok", .bool(i % 2 == 0))])) }
        try w.finish()
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let names = try bsdtar(["-tf", url.path]).split(separator: "\n").map(String.init)
        #expect(names == ["[Content_Types].xml", "_rels/.rels", "docProps/app.xml", "docProps/core.xml", "xl/workbook.xml",
                          "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
                          "xl/worksheets/sheet3.xml"])
        let workbook = try bsdtar(["-xOf", url.path, "xl/workbook.xml"])
        #expect(workbook.contains(#"<sheet name="orders" sheetId="1" r:id="rId1"/><sheet name="orders (2)" sheetId="2" r:id="rId2"/><sheet name="orders (3)" sheetId="3" r:id="rId3"/>"#))
        let types = try bsdtar(["-xOf", url.path, #"\[Content_Types\].xml"#]) // a pattern: the brackets escaped
        #expect(types.contains("/xl/worksheets/sheet3.xml") && !types.contains("sheet4"))
        let third = try bsdtar(["-xOf", url.path, "xl/worksheets/sheet3.xml"])
        #expect(third.contains(#"<sheetData><row r="1"><c r="A1" s="1" t="inlineStr"><is><t xml:space="preserve">id</t></is></c><c r="B1" s="1" t="inlineStr"><is><t xml:space="preserve">ok</t></is></c></row><row r="2"><c r="A2"><v>5</v></c><c r="B2" t="b"><v>0</v></c></row></sheetData>"#))
        let first = try bsdtar(["-xOf", url.path, "xl/worksheets/sheet1.xml"])
        #expect(first.contains(#"<row r="3"><c r="A3"><v>2</v></c><c r="B3" t="b"><v>1</v></c></row></sheetData>"#))
        #expect(first.contains(#"tabSelected="1""#) && !third.contains("tabSelected"))
        // The same records and time give the same bytes.
        let again = dir.appendingPathComponent("again.xlsx")
        let w2 = try XLSXDatasetWriter(url: again, header: header, created: Date(timeIntervalSince1970: 1_780_000_000), rowsPerSheet: 3)
        for i in 1...5 { try w2.write(Fields([("id", .number(String(i))), ("ok", .bool(i % 2 == 0))])) }
        try w2.finish()
        #expect(try Data(contentsOf: url) == Data(contentsOf: again))
    }

    @Test func moreRecordsThanTheHeaderSaidIsAnError() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let header = DatasetHeader(source: "s", dataset: "d", count: 2, columns: ["id"])
        let w = try XLSXDatasetWriter(url: dir.appendingPathComponent("d.xlsx"), header: header, created: Date(), rowsPerSheet: 3)
        try w.write(Fields([("id", .number("1"))]))
        try w.write(Fields([("id", .number("2"))]))
        #expect(throws: DossierError.self) { try w.write(Fields([("id", .number("3"))])) }
    }

    private func bsdtar(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/bsdtar")
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }
}
