import DossierFormats
import DossierModel
import Foundation
import Testing

/// Files written through an export's staging: in memory while the budget lasts, on disk beyond it,
/// the same bytes read back either way.
@Suite struct StagingTests {
    /// Reads a file back through `forEachChunk`.
    func contents(_ file: OutputFile) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try file.forEachChunk { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Deterministic bytes: `count` of them, every value 0...255 in turn.
    func pattern(_ count: Int, from start: Int = 0) -> [UInt8] { (0..<count).map { UInt8((start + $0) % 251) } }

    @Test func aFileWithinTheBudgetNeverTouchesTheDisk() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let staging = Staging(folder: dir, memoryBudget: 1 << 20)
        let url = dir.appendingPathComponent("bundle/data/crm/contacts.json")
        let file = try OutputFile(url: url, staging: staging)
        try file.write("{\"a\":")
        try file.write(bytes: pattern(1000))
        try file.close()
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bundle").path))
        #expect(file.size == 1005)
        #expect(try contents(file) == Array("{\"a\":".utf8) + pattern(1000))
        #expect(try file.read(at: 5, count: 3) == [0, 1, 2])

        // Kept unpacked: written to its path, its folders created 0700 and the file 0600.
        try file.materialize()
        #expect(try Array(Data(contentsOf: url)) == Array("{\"a\":".utf8) + pattern(1000))
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        let folderMode = try FileManager.default.attributesOfItem(atPath: url.deletingLastPathComponent().path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(folderMode == 0o700)
        #expect(try contents(file) == Array("{\"a\":".utf8) + pattern(1000))
    }

    @Test func filesBeyondTheBudgetMoveToDiskWithEveryByte() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 200 KiB: the first file takes its share in 64 KiB steps, the second finds none left.
        let staging = Staging(folder: dir, memoryBudget: 200 << 10)
        let first = try OutputFile(url: dir.appendingPathComponent("bundle/one.bin"), staging: staging)
        let second = try OutputFile(url: dir.appendingPathComponent("bundle/two.bin"), staging: staging)
        var expected: [UInt8] = []
        for step in 0..<10 {  // 10 writes of 30,000 bytes: 300,000 bytes, past the budget
            let piece = pattern(30_000, from: step * 7)
            try first.write(bytes: piece)
            expected += piece
            // Read back while still being written, wherever it is at that moment.
            #expect(try first.read(at: step * 30_000, count: 30_000) == piece)
        }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bundle/one.bin").path))
        try second.write(bytes: pattern(70_000))
        try first.close()
        try second.close()
        #expect(first.size == 300_000)
        #expect(try contents(first) == expected)
        #expect(try contents(second) == pattern(70_000))
        #expect(try Array(Data(contentsOf: dir.appendingPathComponent("bundle/one.bin"))) == expected)
        #expect(try first.read(at: 299_990, count: 10) == Array(expected[299_990...]))
    }

    @Test func aFileReleasedGivesItsBudgetBack() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let staging = Staging(folder: dir, memoryBudget: 100 << 10)
        do {
            let held = try OutputFile(url: dir.appendingPathComponent("a.bin"), staging: staging)
            try held.write(bytes: pattern(90_000))
            try held.close()
        }
        let next = try OutputFile(url: dir.appendingPathComponent("b.bin"), staging: staging)
        try next.write(bytes: pattern(90_000))
        try next.close()
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.bin").path))
    }

    @Test func aSpillIntoARemovedStagingFolderFailsNamingTheFile() throws {
        let dir = try temporaryFolder()
        let staging = Staging(folder: dir, memoryBudget: 0)
        try FileManager.default.removeItem(at: dir)  // a signal removed the staging folder
        let file = try OutputFile(url: dir.appendingPathComponent("bundle/x.json"), staging: staging)
        #expect(throws: DossierError.self) { try file.write(bytes: pattern(10)) }
        // Nothing was recreated.
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }
}
