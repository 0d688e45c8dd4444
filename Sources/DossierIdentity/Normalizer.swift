import CPhoneNumber
import DossierModel

/// The normalisation of DESIGN.md: e-mail trimmed and case-folded, phone in E.164 (libphonenumber,
/// numbers without a country code read in the data map's default region), other kinds trimmed text.
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
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        switch kind {
        case .email: return trimmed.lowercased()
        case .phone: return Self.e164(trimmed, region: defaultRegion)
        default: return trimmed
        }
    }

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
