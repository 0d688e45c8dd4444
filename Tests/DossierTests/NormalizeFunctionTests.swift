@testable import DossierCollectors
import DossierIdentity
import DossierModel
import Foundation
import GRDB
import Testing

/// `normalize_phone` and `normalize_email` in a source's SQL give what the normaliser gives, for
/// every way a value can be stored, however often they are called.
@Suite struct NormalizeFunctionTests {
    let normalizer = StandardNormalizer(defaultRegion: "PL")

    func queue() throws -> (DatabaseQueue, [NormalizeFunction]) {
        let functions = [NormalizeFunction(.email, normalizer: normalizer), NormalizeFunction(.phone, normalizer: normalizer)]
        var config = Configuration()
        config.prepareDatabase { db in for f in functions { try f.register(on: db) } }
        return (try DatabaseQueue(configuration: config), functions)
    }

    @Test func phonesAsTheNormaliserReadsThemInEveryWriting() throws {
        let (q, functions) = try queue()
        let texts = ["+48 22 100 00 00", "22 100 00 00", "(22) 100-00-00", "0048221000000", "+48.22.100.00.00", "22/100/00/00",
                     "+48 22 100 00 01", "+48 22 100 00 00", "not a phone", "+4822 100 00 00 ext 5", "++48221000000", "", "   ",
                     "+1 (650) 253-0000", "650 253 0000", "123", String(repeating: "1", count: 40), "+48 ５００ 100 000"]
        try q.inDatabase { db in
            for _ in 0..<2 {  // the second time from the memo
                for text in texts {
                    let got = try String?.fetchOne(db, sql: "SELECT normalize_phone(?)", arguments: [text]) ?? nil
                    #expect(got == normalizer.normalize(text, as: .phone), "\(text)")
                    let blob = try String?.fetchOne(db, sql: "SELECT normalize_phone(CAST(? AS BLOB))", arguments: [text]) ?? nil
                    #expect(blob == normalizer.normalize(text, as: .phone), "blob \(text)")
                }
            }
            // Not text: NULL, as GRDB's String.fromDatabaseValue reads a number.
            #expect((try String?.fetchOne(db, sql: "SELECT normalize_phone(48221000000)") ?? nil) == nil)
            #expect((try String?.fetchOne(db, sql: "SELECT normalize_phone(NULL)") ?? nil) == nil)
            // A BLOB that is no UTF-8 is no text; a TEXT ends at its first NUL.
            #expect((try String?.fetchOne(db, sql: "SELECT normalize_email(x'FF40782E706C')") ?? nil) == nil)
            #expect((try String?.fetchOne(db, sql: "SELECT normalize_email(CAST(x'416E6E61406578616D706C652E706C0078' AS TEXT))") ?? nil) == "anna@example.pl")
            #expect((try String?.fetchOne(db, sql: "SELECT normalize_email(' Anna@Example.PL ')") ?? nil) == normalizer.normalize(" Anna@Example.PL ", as: .email))
        }
        _ = functions
    }

    @Test func aScanFindsTheSameRowsAsTheNormaliser() throws {
        let (q, functions) = try queue()
        let phones = (0..<500).map { i -> String in
            let n = 221_000_000 + i % 50
            switch i % 4 {
            case 0: return "+48 \(n)"
            case 1: return "0048\(n)"
            case 2: return "(\(n / 10_000_000)) \(n % 10_000_000)"
            default: return "\(n)"
            }
        }
        try q.inDatabase { db in
            try db.execute(sql: "CREATE TABLE contacts (id INTEGER PRIMARY KEY, phone TEXT)")
            for (i, p) in phones.enumerated() { try db.execute(sql: "INSERT INTO contacts VALUES (?, ?)", arguments: [i, p]) }
            for target in ["+48221000007", "+48221000049", "+48221000050"] {
                let ids = try Int.fetchAll(db, sql: "SELECT id FROM contacts WHERE normalize_phone(phone) = ? ORDER BY id", arguments: [target])
                let expected = phones.indices.filter { normalizer.normalize(phones[$0], as: .phone) == target }
                #expect(ids == expected)
                #expect(target == "+48221000050" ? ids.isEmpty : ids.count == 10)
            }
        }
        _ = functions
    }
}

@Suite struct SQLiteTextTests {
    @Test(arguments: [("", false), ("ab", false), ("\u{FFFD}", true), ("a\u{FFFD}", true), ("\u{FFFD}b", true),
                      ("Łódź", false), ("żółć\u{FFFD}żółć", true), ("\u{FFFC}\u{FFFE}", false), ("🙂", false)])
    func replacementCharacterFoundInTheBytes(_ c: (String, Bool)) {
        #expect(SQLiteCollector.holdsReplacementCharacter(c.0) == c.1)
        #expect(SQLiteCollector.holdsReplacementCharacter(c.0) == c.0.unicodeScalars.contains("\u{FFFD}"))
    }
}

/// Normalised phones kept between runs (`KeptPhones`): read back as written, and only whole, under
/// the same region and identity.
@Suite struct KeptPhonesTests {
    func key(_ text: String) throws -> PackedKey {
        var bytes = Array(text.utf8)
        return try #require(bytes.withUnsafeMutableBufferPointer { PackedKey(phone: UnsafeBufferPointer($0)) })
    }

    @Test func readBackAsWritten() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = KeptPhones.url(in: folder, region: "PL")
        #expect(url.lastPathComponent == "phones-PL.cache")
        var entries: [PackedKey: [UInt8]?] = [
            try key("+48 22 122 86 17"): Array("+48221228617".utf8), try key("0048221228600"): Array("+48221228600".utf8),
            try key("(+1) 202-555-0143"): Array("+12025550143".utf8),
        ]
        entries[try key("12")] = .some(nil)   // not a phone number: remembered as such
        KeptPhones.save(entries, to: url, region: "PL", identity: "id 1")
        let read = try #require(KeptPhones.load(url, region: "PL", identity: "id 1"))
        #expect(read.count == 4)
        for (k, v) in entries { #expect(read[k] == .some(v)) }
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["phones-PL.cache"])
        // Another identity or region, or a file that is not whole: not read.
        #expect(KeptPhones.load(url, region: "PL", identity: "id 2") == nil)
        #expect(KeptPhones.load(url, region: "DE", identity: "id 1") == nil)
        let bytes = try Data(contentsOf: url)
        for cut in [1, 17, bytes.count - 32, bytes.count - 1] {
            try bytes.prefix(cut).write(to: url)
            #expect(KeptPhones.load(url, region: "PL", identity: "id 1") == nil, "cut at \(cut)")
        }
        for flip in [0, 20, 40, bytes.count - 33, bytes.count - 1] {
            var damaged = bytes
            damaged[flip] ^= 0x10
            try damaged.write(to: url)
            #expect(KeptPhones.load(url, region: "PL", identity: "id 1") == nil, "byte \(flip) changed")
        }
        try FileManager.default.removeItem(at: url)
        #expect(KeptPhones.load(url, region: "PL", identity: "id 1") == nil)
    }

    @Test func atMostTheLimitIsKept() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = KeptPhones.url(in: folder, region: "PL")
        var entries: [PackedKey: [UInt8]?] = [:]
        for n in 0..<110 { entries[PackedKey(high: 0, low: UInt64(n))] = Array("+48\(n)".utf8) }
        KeptPhones.save(entries, to: url, region: "PL", identity: "i", limit: 100)
        let read = try #require(KeptPhones.load(url, region: "PL", identity: "i"))
        #expect(read.count == 100)
        #expect(read[PackedKey(high: 0, low: 0)] == .some(Array("+480".utf8)))
    }

    /// The identity names the libphonenumber this program loaded, and the program.
    @Test func theIdentityNamesTheLibraryAndTheProgram() throws {
        let identity = try #require(StandardNormalizer.phoneLibraryIdentity)
        #expect(identity.hasPrefix("libphonenumber /") && identity.contains("phonenumber") && identity.contains("; program "))
    }
}
