@testable import DossierCollectors
import DossierModel
import Foundation
import Testing

@Suite struct LookupIndexTests {
    /// Keys are persisted: the hash must never change without a new index format version.
    @Test func keysAreStableFNV1a() {
        #expect(LookupIndex.formatVersion == 3)
        #expect(LookupIndex.key(dataset: "subscribers", kind: .email, value: "anna@example.pl") == 5_149_355_964_643_786_078)
        // Separators keep ("ab", "c") and ("a", "bc") apart.
        #expect(LookupIndex.key(dataset: "ab", kind: .email, value: "c") != LookupIndex.key(dataset: "a", kind: IdentifierKind("bemail"), value: "c"))
    }

    @Test func theStampSeesSizeModificationAndSampledContent() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("data.jsonl")
        var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        try Data(bytes).write(to: file)
        let first = try FileStamp.of(file)
        #expect(first.size == 1 << 20)
        #expect(try FileStamp.of(file) == first)

        // The same size and time, a byte changed in the first block: the fingerprint differs.
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        bytes[10] = UInt8(ascii: "y")
        try Data(bytes).write(to: file)
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: file.path)
        let changed = try FileStamp.of(file)
        #expect(changed.size == first.size && changed.fingerprint != first.fingerprint)

        // A byte between the sampled blocks is not seen (the read-back check covers that case).
        bytes[10] = UInt8(ascii: "x")
        bytes[30_000] = UInt8(ascii: "y")
        try Data(bytes).write(to: file)
        #expect(try FileStamp.of(file).fingerprint == first.fingerprint)
    }

    @Test func csvRowRangesCoverQuotedLineBreaks() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("list.csv")
        let text = "\u{FEFF}Email,Note\r\na@example.pl,\"two\r\nlines\"\r\nb@example.pl,plain"
        try text.write(to: file, atomically: true, encoding: .utf8)
        var ranges: [ByteRange] = []
        _ = try CSVFormat(delimiter: UInt8(ascii: ",")).scanRanges(file, datasets: [], fields: [], source: "s") { _, range, _ in ranges.append(range) }
        let data = Array(try Data(contentsOf: file))
        let slices = ranges.map { String(decoding: data[Int($0.offset)..<Int($0.offset) + $0.length], as: UTF8.self) }
        #expect(slices == ["a@example.pl,\"two\r\nlines\"\r\n", "b@example.pl,plain"])
    }
}
