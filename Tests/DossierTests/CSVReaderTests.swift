@testable import DossierCollectors
import DossierIdentity
import DossierModel
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

@Suite struct PrefilterTests {
    func matcher(_ ids: [Identifier]) -> RecordMatcher {
        let d = Dataset(id: "d", title: nil, description: nil, path: nil, key: [],
                        lookups: ids.map { Lookup(kind: $0.kind, expression: "f", location: SourceLocation(file: "m")) },
                        yields: [], filter: [], record: nil, purposes: [], recipients: [], retention: nil, origin: .subject,
                        from: nil, fields: [], location: SourceLocation(file: "m"))
        return RecordMatcher(dataset: d, identifiers: ids, normalizer: DossierIdentity.StandardNormalizer(defaultRegion: "PL"))
    }

    @Test func aLineThatCannotHoldTheIdentifierIsSkippedOthersNot() throws {
        let needles = try #require(matcher([Identifier(kind: .email, value: "anna@example.pl")]).rawNeedles)
        func might(_ s: String) -> Bool { RecordMatcher.mightMatch(raw: Array(s.utf8)[...], needles: needles) }
        #expect(might(#"{"f": " ANNA@Example.PL "}"#))
        #expect(!might(#"{"f": "jan@example.pl"}"#))
        #expect(might(#"{"f": "anna\u0040example.pl"}"#)) // an escape may spell it
        #expect(!might(#"{"f": "anna@example.pl.evil"}"#)) // a whole value or nothing
        #expect(might("{\"f\": \"\u{A0}anna@example.pl\"}")) // a Unicode space that normalisation trims
    }

    @Test func oneScanFindsAnyOfManyIdentifiersAsWholeValues() throws {
        let ids = (1...500).map { Identifier(kind: IdentifierKind("invoice"), value: "FV/2024/\(String(format: "%06d", $0))") }
            + [Identifier(kind: IdentifierKind("crm_id"), value: "17")]
        let needles = try #require(matcher(ids).rawNeedles)
        func might(_ s: String) -> Bool { RecordMatcher.mightMatch(raw: Array(s.utf8)[...], needles: needles) }
        #expect(might(#"{"type": "line", "invoice": "fv/2024/000321", "amount": 12.5}"#))
        #expect(might(#"{"contact_id": 17, "x": [1, 2]}"#))
        #expect(might(#"{"contact_id": " 17 "}"#))
        #expect(!might(#"{"contact_id": 170, "invoice": "FV/2024/000501"}"#))
    }

    @Test func phonesAndNonASCIIIdentifiersAreNeverPrefiltered() {
        #expect(matcher([Identifier(kind: .phone, value: "+48221228617")]).rawNeedles == nil)
        #expect(matcher([Identifier(kind: .email, value: "łukasz@example.pl")]).rawNeedles == nil)
    }
}
