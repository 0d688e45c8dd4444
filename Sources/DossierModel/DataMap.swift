import Foundation

/// A text in one or more languages: a plain string, or language → string.
public struct Translatable: Sendable, Hashable {
    /// Language code → text, in the order the map gave them; a plain string has the code "".
    public let texts: [String: String]
    public let order: [String]

    public init(_ plain: String) { texts = ["": plain]; order = [""] }
    public init(languages pairs: [(String, String)]) {
        var t: [String: String] = [:]
        for (k, v) in pairs { t[k] = v }
        texts = t; order = pairs.map(\.0)
    }

    /// The text in `language`, else in the first of `fallbacks` that has one, else the first given.
    public func text(in language: String, fallbacks: [String] = []) -> String {
        for code in [language] + fallbacks + [""] { if let t = texts[code] { return t } }
        return order.first.flatMap { texts[$0] } ?? ""
    }
}

/// The data map: the controller, purposes, recipients, categories and every source of an organisation.
///
/// Loaded and validated by `DossierMap.DataMapLoader`; everything here is already checked.
public struct DataMap: Sendable {
    /// The map's own file; relative paths in it are resolved against its folder.
    public var file: String
    public var version: Int
    public var controller: Controller
    public var fees: Fees?
    public var purposes: [Purpose]
    public var categories: [Category]
    public var recipients: [Recipient]
    public var sources: [Source]
    /// The cap on identity-resolution rounds (`resolution.max_rounds`, default 5).
    public var maxRounds: Int
    /// Where the request ledger lives and the rules it applies (`ledger:`); defaults when absent.
    public var ledger: LedgerSettings = LedgerSettings()
    /// The folder of the file sources' lookup indexes (`index.path`), as written in the map.
    public var indexPath: String?

    public init(file: String, version: Int, controller: Controller, fees: Fees?, purposes: [Purpose],
                categories: [Category], recipients: [Recipient], sources: [Source], maxRounds: Int) {
        self.file = file; self.version = version; self.controller = controller; self.fees = fees
        self.purposes = purposes; self.categories = categories; self.recipients = recipients
        self.sources = sources; self.maxRounds = maxRounds
    }

    /// The folder against which the map's relative paths are resolved.
    public var folder: URL { URL(fileURLWithPath: file).deletingLastPathComponent() }

    /// `path` resolved against the map's folder (absolute paths stay as they are).
    public func resolve(path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)
    }

    public func purpose(_ id: String) -> Purpose? { purposes.first { $0.id == id } }

    /// A translatable text of the map in `language`, else in the map's languages, else English.
    public func text(_ t: Translatable?, in language: String) -> String? {
        t?.text(in: language, fallbacks: controller.languages + ["en"])
    }
    public func category(_ id: String) -> Category? { categories.first { $0.id == id } }
    /// The language of a bundle or request: the one asked for, else the map's first.
    public func language(_ requested: String?) -> String {
        requested ?? controller.languages.first ?? "en"
    }

    public func recipient(_ id: String) -> Recipient? { recipients.first { $0.id == id } }
}

public struct Contact: Sendable, Hashable {
    public var name: String?
    public var address: String?
    public var email: String?
    public var phone: String?
    public var website: String?
    public init(name: String? = nil, address: String? = nil, email: String? = nil, phone: String? = nil, website: String? = nil) {
        self.name = name; self.address = address; self.email = email; self.phone = phone; self.website = website
    }
}

public struct Controller: Sendable {
    public var contact: Contact
    public var dpo: Contact?
    public var supervisoryAuthority: Contact
    /// Languages of the bundle's texts; the first is the default.
    public var languages: [String]
    /// ISO 3166 alpha-2 region for phone numbers written without a country code.
    public var defaultRegion: String
    /// The supervisory authority's country (ISO 3166 alpha-2), when the map gives it.
    public var authorityCountry: String?
    public init(contact: Contact, dpo: Contact?, supervisoryAuthority: Contact, languages: [String], defaultRegion: String,
                authorityCountry: String? = nil) {
        self.contact = contact; self.dpo = dpo; self.supervisoryAuthority = supervisoryAuthority
        self.languages = languages; self.defaultRegion = defaultRegion; self.authorityCountry = authorityCountry
    }
}

/// The tariff for further copies (Art. 15(3)). Amounts are decimal text, never binary floating point.
public struct Fees: Sendable {
    public var currency: String
    public var furtherCopy: Decimal
    public var perMegabyte: Decimal?
    public init(currency: String, furtherCopy: Decimal, perMegabyte: Decimal?) {
        self.currency = currency; self.furtherCopy = furtherCopy; self.perMegabyte = perMegabyte
    }
}

/// The legal bases of Art. 6(1).
public enum LegalBasis: String, Sendable, CaseIterable {
    case consent, contract
    case legalObligation = "legal_obligation"
    case vitalInterests = "vital_interests"
    case publicTask = "public_task"
    case legitimateInterests = "legitimate_interests"

    /// Portability (Art. 20) applies to processing on consent or contract only.
    public var allowsPortability: Bool { self == .consent || self == .contract }
}

public struct AutomatedDecision: Sendable {
    public var logic: Translatable
    public var significance: Translatable?
    public var consequences: Translatable
    public init(logic: Translatable, significance: Translatable?, consequences: Translatable) {
        self.logic = logic; self.significance = significance; self.consequences = consequences
    }
}

public struct Purpose: Sendable {
    public var id: String
    public var title: Translatable
    public var description: Translatable?
    public var legalBasis: LegalBasis
    public var legitimateInterest: Translatable?
    public var automatedDecision: AutomatedDecision?
    public init(id: String, title: Translatable, description: Translatable?, legalBasis: LegalBasis,
                legitimateInterest: Translatable?, automatedDecision: AutomatedDecision?) {
        self.id = id; self.title = title; self.description = description; self.legalBasis = legalBasis
        self.legitimateInterest = legitimateInterest; self.automatedDecision = automatedDecision
    }
}

public struct Category: Sendable {
    public var id: String
    public var title: Translatable
    public var description: Translatable?
    public init(id: String, title: Translatable, description: Translatable?) {
        self.id = id; self.title = title; self.description = description
    }
    /// The category of a field the data map does not describe.
    public static let uncategorisedID = "uncategorised"
}

public struct Recipient: Sendable {
    public var id: String
    public var title: Translatable
    public var description: Translatable?
    /// ISO 3166 alpha-2; empty for an international organisation.
    public var country: String
    /// An international organisation's code (`EPO`), instead of a country.
    public var internationalOrganisation: String?
    public var safeguard: Translatable?
    /// The data map says the recipient is certified under the EU-U.S. Data Privacy Framework.
    public var dpfCertified: Bool
    public init(id: String, title: Translatable, description: Translatable?, country: String, safeguard: Translatable?,
                internationalOrganisation: String? = nil, dpfCertified: Bool = false) {
        self.id = id; self.title = title; self.description = description; self.country = country; self.safeguard = safeguard
        self.internationalOrganisation = internationalOrganisation; self.dpfCertified = dpfCertified
    }
    /// True when the data leaves the European Economic Area (Art. 15(2)): a recipient in a third country
    /// or an international organisation.
    public var isThirdCountry: Bool { internationalOrganisation != nil || !Recipient.eea.contains(country.uppercased()) }

    /// The adequacy decision in force on `day` (YYYY-MM-DD) for this recipient's country or organisation,
    /// whatever its scope.
    public func adequacyDecision(on day: String) -> AdequacyDecision? {
        AdequacyDecision.find(for: internationalOrganisation ?? country, on: day)
    }

    /// On what ground data may go to this recipient on `day`: inside the EEA; an adequacy decision whose
    /// scope the recipient is in (the Data Privacy Framework's only when the map says `dpf_certified`);
    /// else the map's Art. 46 safeguard; nil when there is none of these.
    public func transferBasis(on day: String) -> TransferBasis? {
        if !isThirdCountry { return .insideEEA }
        if let d = adequacyDecision(on: day), !d.scope.needsDeclaration || dpfCertified { return .adequacy(d) }
        return safeguard.map { .safeguard($0) }
    }

    /// The EU member states with Iceland, Liechtenstein and Norway.
    public static let eea: Set<String> = [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
        "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    ]
}

/// Where data came from (Art. 14, 15(1)(g)); decides portability with the legal basis.
public enum Origin: String, Sendable, CaseIterable {
    case subject, observed, derived
    case thirdParty = "third_party"
    /// Data the subject provided, directly or by using the service (WP242).
    public var isProvided: Bool { self == .subject || self == .observed }
}

public struct Retention: Sendable {
    /// ISO 8601 duration (`P3Y`).
    public var period: String?
    public var criteria: Translatable?
    public init(period: String?, criteria: Translatable?) { self.period = period; self.criteria = criteria }
}

/// How an identifier kind finds a dataset's records: a SQL query with `:value`, or a field path.
public struct Lookup: Sendable {
    public var kind: IdentifierKind
    public var expression: String
    public var location: SourceLocation
    public init(kind: IdentifierKind, expression: String, location: SourceLocation) {
        self.kind = kind; self.expression = expression; self.location = location
    }
}

/// Which identifier kind a record reveals, from which fields.
public struct Yield: Sendable {
    public var kind: IdentifierKind
    public var paths: [FieldPath]
    /// Where the map names the paths.
    public var location: SourceLocation?
    public init(kind: IdentifierKind, paths: [FieldPath], location: SourceLocation? = nil) {
        self.kind = kind; self.paths = paths; self.location = location
    }
}

public struct FieldSpec: Sendable {
    public var path: FieldPath
    public var title: Translatable?
    public var description: Translatable?
    public var category: String
    public var origin: Origin?
    /// `false` narrows portability; a map can never widen it.
    public var portable: Bool?
    /// Data about another person (Art. 15(4)): withheld from the copy.
    public var thirdParty: Bool
    public init(path: FieldPath, title: Translatable?, description: Translatable?, category: String,
                origin: Origin?, portable: Bool?, thirdParty: Bool) {
        self.path = path; self.title = title; self.description = description; self.category = category
        self.origin = origin; self.portable = portable; self.thirdParty = thirdParty
    }
}

/// One kind of record inside a source: a table, a file, an endpoint.
public struct Dataset: Sendable {
    public var id: String
    public var title: Translatable?
    public var description: Translatable?
    public var path: String?
    public var key: [FieldPath]
    public var lookups: [Lookup]
    public var yields: [Yield]
    public var filter: [(path: FieldPath, value: String)]
    /// For XML: the absolute path of the record element.
    public var record: String?
    public var purposes: [String]
    public var recipients: [String]
    public var retention: Retention?
    public var origin: Origin
    public var from: Translatable?
    public var fields: [FieldSpec]
    public var location: SourceLocation
    /// Kind-specific settings of the dataset (`records` and `next` for an HTTP API).
    public var options: [String: String] = [:]

    public init(id: String, title: Translatable?, description: Translatable?, path: String?, key: [FieldPath],
                lookups: [Lookup], yields: [Yield], filter: [(path: FieldPath, value: String)], record: String?,
                purposes: [String], recipients: [String], retention: Retention?, origin: Origin,
                from: Translatable?, fields: [FieldSpec], location: SourceLocation) {
        self.id = id; self.title = title; self.description = description; self.path = path; self.key = key
        self.lookups = lookups; self.yields = yields; self.filter = filter; self.record = record
        self.purposes = purposes; self.recipients = recipients; self.retention = retention
        self.origin = origin; self.from = from; self.fields = fields; self.location = location
    }

    /// The description of the field at `path`, if the map gives one.
    public func field(_ path: String) -> FieldSpec? { fields.first { $0.path.description == path } }

    /// True when `fields` describes the top-level field `name`, itself or a field nested in it.
    public func describes(fieldNamed name: String) -> Bool {
        field(name) != nil || fields.contains { $0.path.components.first == name }
    }

    /// Paths of fields whose values are withheld as data about other people.
    public var thirdPartyPaths: [FieldPath] { fields.filter(\.thirdParty).map(\.path) }
}

/// One system of the organisation.
public struct Source: Sendable {
    public var id: String
    public var title: Translatable?
    public var description: Translatable?
    /// `sqlite`, `csv`, `jsonl`, `xml`, … (the collector registry decides what is supported).
    public var kind: String
    public var path: String?
    /// Kind-specific settings (`delimiter` for CSV).
    public var options: [String: String]
    /// Kind-specific lists (`command` and `environment` for a command).
    public var lists: [String: [String]] = [:]
    public var datasets: [Dataset]
    public var location: SourceLocation
    public init(id: String, title: Translatable?, description: Translatable?, kind: String, path: String?,
                options: [String: String], datasets: [Dataset], location: SourceLocation) {
        self.id = id; self.title = title; self.description = description; self.kind = kind; self.path = path
        self.options = options; self.datasets = datasets; self.location = location
    }
}

/// The `ledger:` block of the data map.
public struct LedgerSettings: Sendable {
    /// The ledger file, as written in the map (relative to the map's folder).
    public var path: String?
    /// The environment variable that holds a PostgreSQL ledger's URL (instead of `path`).
    public var urlVariable: String?
    /// How long a PostgreSQL ledger's claim lasts without renewal (its holder renews it at a third).
    public var leaseSeconds = 30
    /// Where fulfilled copies are written; default: `archives` beside the ledger file.
    public var archives: String?
    /// The look-back for possibly excessive requests (Art. 12(5)); default three months.
    public var repeatWindow: Period = Period("P3M")!
    /// The country whose public holidays deadlines skip (`ledger.holidays.country`).
    public var holidayCountry: String?
    /// A region of that country with holidays of its own (`ledger.holidays.region`).
    public var holidayRegion: String?
    /// Further non-working days.
    public var extraHolidays: [Day] = []
    /// Nothing leaves before a person has reviewed and approved the bundle (`request review`, `approve`).
    public var requireReview = false
    /// How long a delivered archive is kept before `dossier purge` deletes it; nil: kept.
    public var expiresAfter: Period?
    public init() {}
}

/// Where the public holidays that deadlines skip come from (Art. 12(3) with Reg. 1182/71 Art. 3(4)).
public struct HolidayCalendarChoice: Sendable, Equatable {
    /// ISO 3166 alpha-2, or nil when no calendar applies (weekends only).
    public var country: String?
    public var region: String?
    /// What chose it: `ledger.holidays`, `controller.supervisory_authority.country` or `controller.default_region`.
    public var chosenBy: String
    /// The country that key names, with a calendar or not.
    public var named: String
    public init(country: String?, region: String?, chosenBy: String, named: String? = nil) {
        self.country = country; self.region = region; self.chosenBy = chosenBy; self.named = named ?? country ?? ""
    }
}

extension DataMap {
    /// The calendar of `ledger.holidays`, else of the supervisory authority's country, else of
    /// `default_region`; a country among `known` only (the others have no calendar: weekends only).
    public func holidayCalendar(known: Set<String>) -> HolidayCalendarChoice {
        if let c = ledger.holidayCountry { return HolidayCalendarChoice(country: c, region: ledger.holidayRegion, chosenBy: "ledger.holidays") }
        if let c = controller.authorityCountry {
            return HolidayCalendarChoice(country: known.contains(c) ? c : nil, region: nil, chosenBy: "controller.supervisory_authority.country", named: c)
        }
        let c = controller.defaultRegion
        return HolidayCalendarChoice(country: known.contains(c) ? c : nil, region: nil, chosenBy: "controller.default_region", named: c)
    }
}
