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

    /// `phoneTail`'s claim, checked against Debian's libphonenumber: a text that has a tail
    /// normalises (when it is a number at all) to a number with the same tail. The texts are every
    /// region's example numbers of every type (Google's metadata, through PyPI's `phonenumbers`:
    /// Tests/Fixtures/phones/generate.py), written in E.164, international, national (with carrier
    /// codes where a region dials them), dialled from four other countries, and with the national
    /// prefix after the country code, each with spaces, hyphens, dots or no separators, read in
    /// their region.
    @Test func phoneTailAgreesWithLibphonenumber() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Fixtures/phones/examples.tsv"), encoding: .utf8)
        var checked = 0, tails = 0
        var regions: Set<Substring> = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            try #require(parts.count == 2, "\(line)")
            let phone = String(parts[1])
            guard let tail = StandardNormalizer.phoneTail(phone) else { continue }
            tails += 1
            guard let e164 = StandardNormalizer.e164(phone, region: String(parts[0])) else { continue }
            checked += 1
            regions.insert(parts[0])
            #expect(StandardNormalizer.phoneTail(normalized: e164) == tail, "\(parts[0]) \(phone) -> \(e164)")
        }
        // Most texts have a tail, and most of those are numbers to libphonenumber, from nearly every region.
        #expect(tails > 20_000)
        #expect(checked > 14_000)
        #expect(regions.count > 230)
    }

    @Test(arguments: [("+48 22 122 86 17", "~228617"), ("0048221228617", "~228617"), ("221 228 617", "~228617"),
                      ("(+48) 601-234-567", "~234567"), ("22 122 86", nil), ("+48 22 122 86 17 ext. 5", nil),
                      ("２２１２２８６１７", nil), ("221228617#", nil)] as [(String, String?)])
    func phoneTailIsTheLastSixDigitsOfAPlainText(_ text: String, _ tail: String?) {
        #expect(StandardNormalizer.phoneTail(text) == tail)
    }

    @Test(arguments: [("+48221228617", "~228617"), ("+48221228617;ext=5", nil), ("+4812", nil), ("221228617", nil)] as [(String, String?)])
    func phoneTailOfANormalisedNumber(_ normalized: String, _ tail: String?) {
        #expect(StandardNormalizer.phoneTail(normalized: normalized) == tail)
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
