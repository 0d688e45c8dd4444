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

    /// `phoneKey`'s claim, checked against libphonenumber itself: every way of writing a number with
    /// the usual separators normalises as its key does (5,000 writings of 250 numbers, national and
    /// international, valid and not, drawn by a seeded generator so a failure repeats).
    @Test func textsWithTheSamePhoneKeyNormaliseAlike() {
        var rng = SplitMix64(seed: 0x5EED)
        let n = StandardNormalizer(defaultRegion: "PL")
        let separators = [" ", "-", ".", "/", "  ", " - "]
        var numbers: [String] = ["12", "112", "0048221228617", "+48221228617", "+442079460958", "+12125550100", "600", "+48 0 22 122 86 17"]
        for _ in 0..<242 {
            let length = Int(rng.next() % 9) + 6
            var digits = String((0..<length).map { _ in Character(String(rng.next() % 10)) })
            switch rng.next() % 4 {
            case 0: digits = "+48" + digits
            case 1: digits = "+" + digits
            case 2: digits = "00" + digits
            default: break
            }
            numbers.append(digits)
        }
        for number in numbers {
            let key = StandardNormalizer.phoneKey(number)!
            let want = StandardNormalizer.e164(key, region: "PL")
            for _ in 0..<20 {
                var text = ""
                let plus = number.hasPrefix("+")
                let digits = Array(plus ? number.dropFirst() : number[...])
                if plus { text += rng.next() % 3 == 0 ? "(+" : "+" }
                for (i, d) in digits.enumerated() {
                    if i > 0, rng.next() % 3 == 0 { text += separators[Int(rng.next() % UInt64(separators.count))] }
                    if plus && i == 1 && text.hasPrefix("(+") { text += ")" }
                    text.append(d)
                }
                if rng.next() % 4 == 0 { text = " " + text + " " }
                #expect(StandardNormalizer.phoneKey(text) == key, "\(text)")
                #expect(n.normalize(text, as: .phone) == want, "\(text) against \(key)")
            }
        }
    }

    @Test(arguments: ["22 122 86 17 ext. 5", "+48 22 122 86 17 #5", "22+48", "++48221228617", "２２１２２８６１７", "tel. 221228617", "221228617,5"])
    func textsWithoutAPhoneKeyAreCachedAsThemselves(_ text: String) {
        #expect(StandardNormalizer.phoneKey(text) == nil)
    }
}

/// A small seeded generator (SplitMix64), so that a randomised test repeats its failures.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
