import DossierIdentity
import DossierModel
import Foundation
import Testing

@Suite struct NormalizerTests {
    let n = StandardNormalizer(defaultRegion: "PL")

    @Test(arguments: ["+48 22 122 86 17", "221228617", "0048 22 122-86-17", "(22) 122 86 17", " +48221228617 "])
    func polishPhoneFormatsMeetInE164(_ text: String) {
        #expect(n.normalize(text, as: .phone) == "+48221228617")
    }

    @Test func trunkZeroAfterCountryCodeIsDropped() {
        #expect(n.normalize("+49 0711 2842222", as: .phone) == "+497112842222")
    }

    @Test func notAPhoneMatchesNothing() {
        #expect(n.normalize("call me", as: .phone) == nil)
        #expect(n.normalize("12", as: .phone) == nil)
        #expect(n.normalize("", as: .phone) == nil)
    }

    @Test func emailIsTrimmedAndCaseFolded() {
        #expect(n.normalize("  Zofia.Wisniewska@Example.PL ", as: .email) == "zofia.wisniewska@example.pl")
        #expect(n.normalize("ŁUKASZ@example.pl", as: .email) == "łukasz@example.pl")
        #expect(n.validated("not-an-address", as: .email) == nil)
        #expect(n.validated("a@b", as: .email) == nil)
    }

    @Test func otherKindsCompareAsTrimmedText() {
        #expect(n.normalize(" 17 ", as: IdentifierKind("crm_id")) == "17")
    }

    /// The ASCII fast path gives exactly what Foundation's trimming and lower-casing give, for every
    /// string of up to three characters over ASCII's control characters, spaces, letters and digits.
    @Test func theASCIIPathAgreesWithFoundation() {
        let alphabet = (0..<0x21).map { Character(Unicode.Scalar(UInt8($0))) } + ["\u{7F}", "a", "Z", "@", "1", "."]
        var checked = 0
        for a in alphabet {
            for b in [""] + alphabet.map(String.init) {
                for c in ["", " ", "Q", "\u{1F}"] {
                    let text = String(a) + b + c
                    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    #expect(n.normalize(text, as: .email) == (trimmed.isEmpty ? nil : trimmed.lowercased()), "\(Array(text.utf8))")
                    #expect(n.normalize(text, as: IdentifierKind("crm_id")) == (trimmed.isEmpty ? nil : trimmed), "\(Array(text.utf8))")
                    checked += 1
                }
            }
        }
        #expect(checked == 39 * 40 * 4)
    }
}
