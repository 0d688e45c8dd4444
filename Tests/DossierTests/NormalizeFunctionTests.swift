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
