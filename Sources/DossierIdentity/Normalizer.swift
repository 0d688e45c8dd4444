import CPhoneNumber
import DossierModel
import Foundation

/// The normalisation of DESIGN.md: e-mail trimmed and lower-cased (but never into ASCII from beyond it), phone in E.164
/// (libphonenumber, numbers without a country code read in the data map's default region, an
/// extension kept as `;ext=5`), other kinds trimmed text.
///
/// ```swift
/// let n = StandardNormalizer(defaultRegion: "PL")
/// n.normalize(" Anna@Example.PL ", as: .email)     // "anna@example.pl"
/// n.normalize("0048 22 122-86-17", as: .phone)   // "+48221228617"
/// ```
public struct StandardNormalizer: IdentifierNormalizer {
    public let defaultRegion: String

    public init(defaultRegion: String) { self.defaultRegion = defaultRegion }

    public func normalize(_ text: String, as kind: IdentifierKind) -> String? {
        if let ascii = Self.asciiNormalized(text, lowercase: kind == .email) {
            guard !ascii.isEmpty else { return nil }
            return kind == .phone ? Self.e164(ascii, region: defaultRegion) : ascii
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        switch kind {
        case .email:
            // Lower-cased letter by letter (Ł → ł), except where a letter beyond ASCII would become
            // ASCII: a Kelvin sign (U+212A) lower-cases to "k", which would make it another
            // person's address. Nothing is composed (NFC maps the Kelvin sign to "K" too).
            var folded = String.UnicodeScalarView()
            for s in trimmed.unicodeScalars {
                if s.isASCII {
                    folded.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value | 0x20)! : s)
                    continue
                }
                let lower = s.properties.lowercaseMapping
                if lower.unicodeScalars.contains(where: \.isASCII) { folded.append(s) } else { folded.append(contentsOf: lower.unicodeScalars) }
            }
            return String(folded)
        case .phone: return Self.e164(trimmed, region: defaultRegion)
        default: return trimmed
        }
    }

    /// For ASCII text, the same as trimming `.whitespacesAndNewlines` (in ASCII: tab, line feed,
    /// vertical tab, form feed, carriage return, space) and, for e-mails, lower-casing, without
    /// Foundation; nil for any other text, which takes the general path.
    static func asciiNormalized(_ text: String, lowercase: Bool) -> String? {
        // One pass over the bytes (an index build normalises every address of a file). A native
        // string is contiguous already: `withUTF8` copies nothing.
        var contiguous = text
        return contiguous.withUTF8 { bytes -> String? in
            var first = -1, last = -1, upper = false
            for (k, b) in bytes.enumerated() {
                if b >= 0x80 { return nil }
                if b == 0x20 || (0x09...0x0D).contains(b) { continue }
                if first < 0 { first = k }
                last = k
                upper = upper || (0x41...0x5A).contains(b)
            }
            if first < 0 { return "" }
            if !(lowercase && upper) {
                return first == 0 && last == bytes.count - 1 ? text : String(decoding: bytes[first...last], as: UTF8.self)
            }
            return String(unsafeUninitializedCapacity: last - first + 1) { out in
                for k in first...last { out[k - first] = (0x41...0x5A).contains(bytes[k]) ? bytes[k] | 0x20 : bytes[k] }
                return last - first + 1
            }
        }
    }

    /// What libphonenumber reads of a phone text made only of digits, spaces and the separators
    /// `-` `.` `(` `)` `/`, with at most one `+` before the first digit: the digits, after `+` when
    /// there is one (`"(+48) 607-565 242"` → `"+48607565242"`). Texts with the same key are the same
    /// number to it, so a cache of normalised phones can hold one entry a key rather than one a
    /// way of writing it (the bench's XML file: 37,533 texts, 19,083 keys). Nil for any other text
    /// (letters, an extension, a second `+`, anything beyond ASCII), which is cached by itself.
    public static func phoneKey(_ text: String) -> String? {
        var key: [UInt8] = []
        key.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): key.append(b)
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "/"): continue
            case UInt8(ascii: "+") where key.isEmpty: key.append(b)
            default: return nil
            }
        }
        return String(decoding: key, as: UTF8.self)
    }

    /// How many trailing digits `phoneTail` keeps.
    public static let phoneTailDigits = 6

    /// A key that every phone text libphonenumber reads as a given number shares with that number's
    /// E.164 form (`phoneTail(normalized:)`), found without libphonenumber: `~` and the text's last
    /// six digits, for a text that has a `phoneKey` (digits and the usual separators only) and at
    /// least nine digits; nil for any other text, which must be normalised.
    ///
    /// Why it holds: in such a text libphonenumber finds no extension (each needs a letter, `#`,
    /// `,` or `;`), no second number (`/` then `x`) and no letter to turn into a digit, so the
    /// number it reads is the text's digits with a front part replaced: an international prefix and
    /// country code, a national or carrier prefix it strips (at most four digits, in Colombia and
    /// Chile), a prefix a region's rule rewrites (Argentina's `0 11 15` → `9 11`, North American
    /// islands' area code added). The national number keeps the text's last digits; with nine
    /// digits in the text, at least six of them. Checked against libphonenumber on every region's
    /// example numbers in several forms (`NormalizerTests.phoneTailAgreesWithLibphonenumber`).
    /// A lookup index keys such texts by their tail: two numbers can share one, and the records a
    /// tail finds are read and their phones normalised again before any is taken.
    public static func phoneTail(_ text: String) -> String? {
        guard let key = phoneKey(text) else { return nil }
        let digits = key.utf8.first == UInt8(ascii: "+") ? key.utf8.dropFirst() : key.utf8[...]
        guard digits.count >= 9 else { return nil }
        return "~" + String(decoding: digits.suffix(phoneTailDigits), as: UTF8.self)
    }

    /// The `phoneTail` of the texts that normalise to `normalized` (an E.164 number as `normalize`
    /// gives it), or nil when no such text has one (a number with an extension, or under six digits).
    public static func phoneTail(normalized: String) -> String? {
        guard normalized.utf8.first == UInt8(ascii: "+"), !normalized.contains(";") else { return nil }
        let digits = normalized.utf8.dropFirst()
        guard digits.count >= phoneTailDigits, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return "~" + String(decoding: digits.suffix(phoneTailDigits), as: UTF8.self)
    }

    /// What a normalised phone depends on besides its text and region: the libphonenumber that
    /// read it (its file's path, size and modification time: an upgrade brings new numbering
    /// plans) and this program (its size and modification time: a new version may read phones
    /// differently). A cache of normalised phones kept between runs is valid only under the same
    /// identity. Nil when either cannot be known.
    public static let phoneLibraryIdentity: String? = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBufferPointer { dossier_phone_library($0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let library = String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        func stamp(_ path: String) -> String? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return "\(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        guard let lib = stamp(library), let program = stamp("/proc/self/exe") else { return nil }
        return "libphonenumber \(library) \(lib); program \(program)"
    }()

    /// The E.164 form of a phone number, or nil when libphonenumber finds no possible number.
    public static func e164(_ text: String, region: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBufferPointer { out in
            dossier_phone_e164(text, region, out.baseAddress, out.count)
        }
        guard n > 0 else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Checks that an identifier given on the command line is one: a well-formed e-mail address,
    /// a possible phone number, or non-empty text. Returns the normalised value.
    public func validated(_ text: String, as kind: IdentifierKind) -> String? {
        guard let value = normalize(text, as: kind) else { return nil }
        if kind == .email {
            let parts = value.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
                  !parts[1].hasSuffix("."), !value.contains(where: { $0.isWhitespace }) else { return nil }
        }
        return value
    }
}
