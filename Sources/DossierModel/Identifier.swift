/// The kind of an identifier: `email`, `phone`, or any key a system uses (`crm_id`, `invoice_id`).
///
/// ```swift
/// let kind = IdentifierKind("crm_id")
/// kind == .email   // false
/// ```
public struct IdentifierKind: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public static let email = IdentifierKind("email")
    public static let phone = IdentifierKind("phone")
    public var description: String { name }
    public static func < (lhs: IdentifierKind, rhs: IdentifierKind) -> Bool { lhs.name < rhs.name }

    /// True when `name` can name an identifier kind: a lower-case letter, then letters, digits or `_`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// A typed value that points at the subject, in its normalised form.
public struct Identifier: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let kind: IdentifierKind
    public let value: String
    public init(kind: IdentifierKind, value: String) { self.kind = kind; self.value = value }
    public var description: String { "\(kind.name)=\(value)" }
    public static func < (lhs: Identifier, rhs: Identifier) -> Bool {
        (lhs.kind.name, lhs.value) < (rhs.kind.name, rhs.value)
    }
}

/// Turns raw identifier text into its normalised form; nil when the text is no such identifier.
///
/// The model only states the contract; `DossierIdentity` implements it with libphonenumber.
public protocol IdentifierNormalizer: Sendable {
    func normalize(_ text: String, as kind: IdentifierKind) -> String?
}

/// Access (Art. 15) or portability (Art. 20).
public enum RequestKind: String, Sendable, CaseIterable {
    case access, portability
}
