@testable import DossierEngine
import DossierFormats
import DossierModel
import Foundation
import Testing

/// A dataset store's index of its records: kept in memory, or moved into an SQLite file in the
/// staging folder once the store outgrows its memory limit. One suite, both ways: the same records
/// in the same order, the same matches with the same positions, the same columns and counts.
@Suite struct RecordIndexTests {
    typealias Part = DatasetStore.SortKeyPart

    /// Parts that meet every rule of the order: numbers equal in value with different texts (0, -0,
    /// 0.0), numbers against texts, texts with NUL bytes and prefixes of each other, non-ASCII, missing.
    static let parts: [Part] = {
        let numbers = ["-0", "0", "0.0", "-0.00", "1", "-1", "10", "9.5", "9.50", "-9.5", "123456789012345678901234567890",
                       "0.1", "-0.1", "2", "1.0"]
        let texts = ["", "a", "a\u{0}", "a\u{0}b", "a\u{0}\u{0}", "ab", "b", "\u{0}", "\u{FF}", "é", "e\u{301}", "-", "1e3",
                     "Z", "z", "😀", "a\u{1}"]
        return numbers.map { DatasetStore.sortPart(.number($0)) } + texts.map { Part.text($0) } + [.missing]
    }()

    @Test func theNumbersAreNumbers() {
        for part in Self.parts.prefix(15) {
            guard case .number = part else { Issue.record("\(part) is not a number"); continue }
        }
    }

    /// Every pair of keys of one and of two parts: the bytes compare as the parts do.
    @Test func keyBytesCompareAsTheirParts() {
        let ones = Self.parts.map { [$0] }
        var twos: [[Part]] = []
        for a in Self.parts.prefix(20) { for b in Self.parts.suffix(20) { twos.append([a, b]) } }
        for keys in [ones, twos] {
            for a in keys {
                for b in keys {
                    let ka = Part.key(a), kb = Part.key(b)
                    #expect(ka.lexicographicallyPrecedes(kb) == a.lexicographicallyPrecedes(b), "\(a) < \(b)")
                    #expect((ka == kb) == (!a.lexicographicallyPrecedes(b) && !b.lexicographicallyPrecedes(a)), "\(a) == \(b)")
                }
            }
        }
    }

    func dataset(key: [String]) -> Dataset {
        Dataset(id: "events", title: nil, description: nil, path: nil, key: key.map { FieldPath($0) }, lookups: [], yields: [],
                filter: [], record: nil, purposes: ["service"], recipients: [], retention: nil, origin: .subject, from: nil,
                fields: [FieldSpec(path: FieldPath("id"), title: nil, description: nil, category: "contact", origin: nil,
                                   portable: nil, thirdParty: false)],
                location: SourceLocation(file: "map.yaml"))
    }

    /// What a store tells the bundle: records in order, matches with positions, columns, counts.
    struct Seen: Equatable {
        var records: [Record] = []
        var firstThree: [Record] = []
        var matches: [String] = []
        var columns: [String] = []
        var count = 0
        var found: [Identifier: Int] = [:]
        var undescribed: Set<String> = []
    }

    /// Adds the same finds to a store with the given memory limit and reads back what it holds.
    func run(key: [String], limit: Int, finds: [(Record, Identifier, Int)], in parent: URL) throws -> (Seen, Bool) {
        let folder = parent.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        let staging = Staging(folder: folder, memoryBudget: 1 << 16)
        let source = Source(id: "crm", title: nil, description: nil, kind: "csv", path: nil, options: [:], datasets: [dataset(key: key)],
                            location: SourceLocation(file: "map.yaml"))
        let store = DatasetStore(source: source, dataset: source.datasets[0], staging: staging, index: limit, memoryLimit: limit)
        for (record, identifier, round) in finds { try store.add(record, foundBy: identifier, round: round) }
        try store.close()
        var seen = Seen()
        try store.forEachRecord { seen.records.append($0) }
        try store.forEachRecord(limit: 3) { seen.firstThree.append($0) }
        try store.forEachMatch { identifier, round, position in seen.matches.append("\(identifier.value) \(round) \(position)") }
        seen.columns = store.columns
        seen.count = store.count
        seen.found = store.recordsFound
        seen.undescribed = store.undescribedFields
        let scratch = FileManager.default.fileExists(atPath: folder.appendingPathComponent("spill-\(limit).sqlite").path)
        return (seen, scratch)
    }

    /// Deterministic finds: records found twice and by two identifiers, keys that tie, numbers and
    /// texts and missing values, columns that differ from record to record.
    func finds(_ n: Int) -> [(Record, Identifier, Int)] {
        var generator = SplitMix64(seed: 7)
        let ids = [Identifier(kind: .email, value: "a@example.com"), Identifier(kind: .phone, value: "+48500100200")]
        var result: [(Record, Identifier, Int)] = []
        for i in 0..<n {
            let k = Int(generator.next() % UInt64(n / 2 + 1))
            let when: Value = switch k % 4 {
            case 0: .number(String(k % 17))
            case 1: .string("day \(k % 13)")
            case 2: .null
            default: .number("-\(k % 5).5")
            }
            var fields: [(String, Value)] = [("id", .number(String(k))), ("when", when)]
            if k % 3 == 0 { fields.append(("note", .string("n\u{0}\(k)"))) }
            if k % 7 == 0 { fields.insert(("extra", .bool(true)), at: 0) }
            result.append((Fields(fields), ids[i % 3 == 0 ? 1 : 0], 1 + i % 2))
        }
        return result
    }

    @Test(arguments: [[], ["when"], ["when", "id"]])
    func spilledAndInMemoryIndexesAgree(key: [String]) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for n in [0, 1, 10, 257] {
            let finds = finds(n)
            let (memory, memoryScratch) = try run(key: key, limit: 1_000_000, finds: finds, in: folder)
            let (spilled, spilledScratch) = try run(key: key, limit: 1, finds: finds, in: folder)
            let (edge, _) = try run(key: key, limit: max(n / 3, 1) + 1, finds: finds, in: folder)
            #expect(!memoryScratch)
            #expect(spilledScratch == (memory.count > 1), "n = \(n)")
            #expect(spilled == memory, "n = \(n), key \(key)")
            #expect(edge == memory, "n = \(n), key \(key)")
            #expect(memory.records.count == memory.count)
            #expect(memory.matches.count == memory.found.values.reduce(0, +))
            if n == 257 {
                #expect(memory.count > 20 && memory.count < 257)
                #expect(memory.firstThree == Array(memory.records.prefix(3)))
                #expect(memory.columns.contains("extra") && memory.columns.contains("note"))
                #expect(memory.undescribed == ["when", "note", "extra"])
            }
        }
    }

    /// A record is kept once however often it is found; an identifier is noted once per record.
    @Test func aRecordFoundAgainIsKeptOnce() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = Identifier(kind: .email, value: "a@example.com"), b = Identifier(kind: .phone, value: "+48500100200")
        let r1 = Fields([("id", .number("2"))]), r2 = Fields([("id", .number("10"))])
        for limit in [1, 100] {
            let (seen, _) = try run(key: ["id"], limit: limit, finds: [(r2, a, 1), (r1, a, 1), (r2, a, 2), (r2, b, 2), (r1, b, 3)], in: folder)
            #expect(seen.records == [r1, r2])
            #expect(seen.matches == ["a@example.com 1 1", "a@example.com 1 0", "+48500100200 2 1", "+48500100200 3 0"])
            #expect(seen.found == [a: 2, b: 2])
        }
    }
}
