@testable import DossierCollectors
import Foundation
import Testing

@Suite struct CSVReaderTests {
    func rows(_ text: String, delimiter: Character = ",") throws -> (rows: [[String]], lines: [Int]) {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("t.csv")
        try Data(text.utf8).write(to: url)
        let reader = try CSVRowReader(url: url, delimiter: delimiter.asciiValue!)
        var result: [[String]] = [], lines: [Int] = []
        while let row = try reader.nextRow() { result.append(row); lines.append(reader.rowLine) }
        return (result, lines)
    }

    @Test func quotedCellsHoldDelimitersQuotesAndLineBreaks() throws {
        let r = try rows("\u{FEFF}a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\nlast,,\"\"\n")
        #expect(r.rows == [["a", "b", "c"], ["x, y", "say \"hi\"", "two\r\nlines"], ["last", "", ""]])
        #expect(r.lines == [1, 2, 4])
    }

    @Test func lenientWhereExportsAre() throws {
        let r = try rows("a,b\n=HYPERLINK(\"http://x\"),\"q\"tail\nno newline at end,1")
        #expect(r.rows == [["a", "b"], ["=HYPERLINK(\"http://x\")", "qtail"], ["no newline at end", "1"]])
    }

    @Test func otherDelimitersAndPolishText() throws {
        let r = try rows("imię;nazwisko\nZofia;Wiśniewska\n", delimiter: ";")
        #expect(r.rows == [["imię", "nazwisko"], ["Zofia", "Wiśniewska"]])
    }

    @Test func anUnterminatedQuoteNamesItsLine() throws {
        #expect {
            _ = try rows("a,b\n1,2\n3,\"never\nends\n")
        } throws: { error in
            if case CSVRowReader.Failure.unterminatedQuote(let line) = error { return line == 3 }
            return false
        }
    }

    @Test func invalidUTF8IsRefused() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("t.csv")
        try Data([0x61, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: url)
        let reader = try CSVRowReader(url: url, delimiter: UInt8(ascii: ","))
        _ = try reader.nextRow()
        #expect(throws: CSVRowReader.Failure.self) { _ = try reader.nextRow() }
    }
}
