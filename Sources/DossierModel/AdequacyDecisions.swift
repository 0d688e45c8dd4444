/// An adequacy decision of the European Commission (GDPR Art. 45): personal data may go to the
/// destination it names without an Art. 46 safeguard, within its scope and while it is in force.
///
/// ```swift
/// let d = AdequacyDecision.find(for: .country("CA"), on: "2026-12-06")
/// d?.decision   // "Commission Decision 2002/2/EC"
/// d?.scope      // .pipeda: only organisations subject to Canada's PIPEDA
/// ```
public struct AdequacyDecision: Sendable, Equatable {
    /// What a decision covers, when it does not cover every recipient of its destination.
    public enum Scope: String, Sendable, Equatable {
        /// Every recipient there.
        case whole
        /// Canada: organisations subject to the Personal Information Protection and Electronic Documents
        /// Act (commercial activities).
        case pipeda
        /// Japan: business operators subject to the Act on the Protection of Personal Information.
        case appi
        /// The United States: organisations certified under the EU-U.S. Data Privacy Framework. The data
        /// map must say the recipient is certified (`dpf_certified: true`).
        case dataPrivacyFramework = "data_privacy_framework"

        /// Whether the recipient must be declared as covered in the data map.
        public var needsDeclaration: Bool { self == .dataPrivacyFramework }
    }

    /// Where the decision lets data go: ISO 3166 alpha-2 (`GB`), or an international organisation's
    /// code as the data map writes it (`EPO`).
    public let destination: String
    /// The destination's name in English (the pages name countries in their own language).
    public let name: String
    /// The act, as the Official Journal cites it.
    public let decision: String
    /// The day it was adopted (YYYY-MM-DD).
    public let adopted: String
    /// The last day it is in force, when it says (YYYY-MM-DD).
    public let until: String?
    public let scope: Scope

    public init(destination: String, name: String, decision: String, adopted: String, until: String? = nil, scope: Scope = .whole) {
        self.destination = destination; self.name = name; self.decision = decision
        self.adopted = adopted; self.until = until; self.scope = scope
    }

    /// The day this table was last checked against the Commission's list
    /// (https://commission.europa.eu/law/law-topic/data-protection/international-dimension-data-protection/adequacy-decisions_en).
    /// Update the table and this date together; `make test` checks nothing against the network.
    public static let checked = "2026-12-06"

    /// The decisions in force on `checked`, one per destination.
    public static let all: [AdequacyDecision] = [
        .init(destination: "AD", name: "Andorra", decision: "Commission Decision 2010/625/EU", adopted: "2010-10-19"),
        .init(destination: "AR", name: "Argentina", decision: "Commission Decision 2003/490/EC", adopted: "2003-06-30"),
        .init(destination: "BR", name: "Brazil", decision: "Commission Implementing Decision (EU) 2026/179", adopted: "2026-01-26"),
        .init(destination: "CA", name: "Canada", decision: "Commission Decision 2002/2/EC", adopted: "2001-12-20", scope: .pipeda),
        .init(destination: "CH", name: "Switzerland", decision: "Commission Decision 2000/518/EC", adopted: "2000-07-26"),
        .init(destination: "FO", name: "Faroe Islands", decision: "Commission Decision 2010/146/EU", adopted: "2010-03-05"),
        .init(destination: "GB", name: "United Kingdom",
              decision: "Commission Implementing Decision (EU) 2021/1772, renewed on 19 December 2025",
              adopted: "2021-06-28", until: "2031-12-27"),
        .init(destination: "GG", name: "Guernsey", decision: "Commission Decision 2003/821/EC", adopted: "2003-11-21"),
        .init(destination: "IL", name: "Israel", decision: "Commission Decision 2011/61/EU", adopted: "2011-01-31"),
        .init(destination: "IM", name: "Isle of Man", decision: "Commission Decision 2004/411/EC", adopted: "2004-04-28"),
        .init(destination: "JE", name: "Jersey", decision: "Commission Decision 2008/393/EC", adopted: "2008-05-08"),
        .init(destination: "JP", name: "Japan", decision: "Commission Implementing Decision (EU) 2019/419", adopted: "2019-01-23", scope: .appi),
        .init(destination: "KR", name: "Republic of Korea", decision: "Commission Implementing Decision (EU) 2022/254", adopted: "2021-12-17"),
        .init(destination: "NZ", name: "New Zealand", decision: "Commission Implementing Decision 2013/65/EU", adopted: "2012-12-19"),
        .init(destination: "US", name: "United States", decision: "Commission Implementing Decision (EU) 2023/1795", adopted: "2023-07-10",
              scope: .dataPrivacyFramework),
        .init(destination: "UY", name: "Uruguay", decision: "Commission Implementing Decision 2012/484/EU", adopted: "2012-08-21"),
        .init(destination: "EPO", name: "European Patent Organisation", decision: "Commission Implementing Decision of 15 July 2025",
              adopted: "2025-07-15"),
    ]

    /// International organisations a data map may name (`international_organisation: EPO`).
    public static let organisations: Set<String> = ["EPO"]

    /// The decision for `destination` in force on `day` (YYYY-MM-DD), whatever its scope.
    public static func find(for destination: String, on day: String) -> AdequacyDecision? {
        all.first { $0.destination == destination.uppercased() && $0.adopted <= day && ($0.until.map { day <= $0 } ?? true) }
    }
}

/// On what ground personal data may go to a recipient (GDPR Chapter V).
public enum TransferBasis: Sendable, Equatable {
    /// The recipient is in the EEA: no transfer in the sense of Chapter V.
    case insideEEA
    /// An adequacy decision covers the recipient (Art. 45).
    case adequacy(AdequacyDecision)
    /// The safeguard the data map names (Art. 46).
    case safeguard(Translatable)
}
