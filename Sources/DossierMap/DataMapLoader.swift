import DossierModel
import Foundation
import Yams

/// Reads a YAML data map into checked model values.
///
/// Every problem is reported as a `DossierError` of kind `.dataMap` naming the file, line and key:
///
/// ```swift
/// let map = try CollectorRegistry.mapLoader.load(file: "Samples/dossier.yaml")   // DataMapLoader(kinds: …)
/// map.sources.map(\.id)   // ["crm", "newsletter", …]
/// ```
///
/// Scalars are read as text and converted here: YAML 1.1's `NO`-is-false and `25.00`-is-a-float
/// rules never apply to a data map.
public struct DataMapLoader: Sendable {
    /// The source kinds this loader accepts, each reading its own keys.
    public var kinds: [any SourceKindDefinition.Type]
    /// Kinds that DESIGN.md names but that have no implementation yet: reported as not yet supported.
    public var plannedKinds: Set<String>

    /// The day (YYYY-MM-DD) on which transfers are judged: an adequacy decision must be in force then.
    public var today: String

    public init(kinds: [any SourceKindDefinition.Type], plannedKinds: Set<String> = [], today: String? = nil) {
        self.kinds = kinds
        self.plannedKinds = plannedKinds
        self.today = today ?? Self.utcToday()
    }

    /// Today in UTC, as `Date.utcTimestamp` writes it (through `String(format:)`, its arguments'
    /// dynamic casts scanned the binary's protocol conformances: about 0.3 ms of every start).
    static func utcToday() -> String {
        String(Date().utcTimestamp.prefix(10))
    }

    public func load(file: String) throws(DossierError) -> DataMap {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw DossierError(.dataMap, "cannot read the data map: \(Unreadable.reason(file))", at: SourceLocation(file: file))
        }
        let bytes = [UInt8](data)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            // The line of the first byte that is not UTF-8, found by decoding ever longer prefixes' lines.
            var line = 1, start = 0
            for (i, b) in bytes.enumerated() where b == 0x0A {
                if String(validating: bytes[start..<i], as: UTF8.self) == nil { break }
                line += 1
                start = i + 1
            }
            throw DossierError(.dataMap, "the data map is not UTF-8 text: save it as UTF-8", at: SourceLocation(file: file, line: line))
        }
        return try load(yaml: text, file: file)
    }

    public func load(yaml: String, file: String) throws(DossierError) -> DataMap {
        let node: Node
        do {
            // Every scalar is read as text (`MapNode`), so no tag is ever resolved: Yams' default
            // resolver would compile its seven regular expressions and run them on every scalar
            // (a tenth of loading a map), for tags nothing reads.
            guard let composed = try Yams.compose(yaml: yaml, .basic) else {
                throw DossierError(.dataMap, "the data map is empty", at: SourceLocation(file: file))
            }
            node = composed
        } catch let error as DossierError {
            throw error
        } catch let error as YamlError {
            throw DossierError(.dataMap, "is not valid YAML: \(Self.describe(error))", at: Self.location(of: error, file: file))
        } catch {
            throw DossierError(.dataMap, "is not valid YAML", at: SourceLocation(file: file))
        }
        return try MapReader(file: file, kinds: kinds, plannedKinds: plannedKinds, today: today).read(MapNode(node: node, keyPath: "", file: file))
    }

    /// The problem in the map's own words; never the YAML text (the errors carry all of it).
    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        case .reader(let problem, _, _, _): return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "the key\(duplicates.count == 1 ? "" : "s") \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) \(duplicates.count == 1 ? "is" : "are") given twice in one mapping"
        default: return "syntax error"
        }
    }

    static func location(of error: YamlError, file: String) -> SourceLocation {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return SourceLocation(file: file, line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(_, let context):
            return SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
        default: return SourceLocation(file: file)
        }
    }
}

private struct MapReader {
    let file: String
    let kinds: [any SourceKindDefinition.Type]
    let plannedKinds: Set<String>
    let today: String

    var kindNames: String { kinds.map { $0.name }.sorted().joined(separator: ", ") }

    func read(_ root: MapNode) throws(DossierError) -> DataMap {
        var version = 0, controller: Controller?, fees: Fees?, maxRounds = 5
        var purposes: [Purpose] = [], categories: [Category] = [], recipients: [Recipient] = [], sources: [Source] = []
        var purposeNodes: [String: MapNode] = [:]
        var ledger = LedgerSettings()
        var indexPath: String?
        let top = try root.entries(allowed: ["version", "controller", "fees", "purposes", "categories", "recipients", "sources", "resolution", "ledger", "index"],
                                   required: ["version", "controller", "purposes", "categories", "sources"])
        for (key, node) in top where key == "version" {
            version = try node.int()
            guard version == 1 else { throw node.fail("version \(version) is not supported; this Dossier reads version 1") }
        }
        for (key, node) in top {
            switch key {
            case "controller": controller = try readController(node)
            case "fees": fees = try readFees(node)
            case "purposes":
                for (id, p) in try node.entries() { purposes.append(try readPurpose(id, p)); purposeNodes[id] = p }
            case "categories":
                for (id, c) in try node.entries() {
                    let e = try c.entries(allowed: ["title", "description"], required: ["title"])
                    categories.append(Category(id: id, title: try e.first { $0.0 == "title" }!.1.translatable(),
                                               description: try e.first { $0.0 == "description" }?.1.translatable()))
                }
            case "recipients":
                for (id, r) in try node.entries() { recipients.append(try readRecipient(id, r)) }
            case "ledger": ledger = try readLedger(node)
            case "index":
                for (k, v) in try node.entries(allowed: ["path"], required: ["path"]) where k == "path" { indexPath = try v.nonEmptyString() }
            case "resolution":
                for (k, v) in try node.entries(allowed: ["max_rounds"]) where k == "max_rounds" {
                    maxRounds = try v.int()
                    if maxRounds < 1 { throw v.fail("max_rounds must be at least 1") }
                }
            default: break
            }
        }
        let context = References(purposes: Set(purposes.map(\.id)), categories: Set(categories.map(\.id)),
                                 recipients: Set(recipients.map(\.id)))
        for (key, node) in top where key == "sources" {
            let entries = try node.entries()
            if entries.isEmpty { throw node.fail("at least one source is needed") }
            for (id, s) in entries { sources.append(try readSource(id, s, context)) }
        }
        var map = DataMap(file: file, version: version, controller: controller!, fees: fees, purposes: purposes,
                          categories: categories, recipients: recipients, sources: sources, maxRounds: maxRounds)
        map.ledger = ledger
        map.indexPath = indexPath
        return map
    }

    func readLedger(_ node: MapNode) throws(DossierError) -> LedgerSettings {
        var settings = LedgerSettings()
        for (k, v) in try node.entries(allowed: ["path", "url_env", "archives", "lease_seconds", "repeat_window", "holidays", "require_review", "expires_after"]) {
            switch k {
            case "lease_seconds":
                let n = try v.int()
                guard (1...3600).contains(n) else { throw v.fail("lease_seconds must be a number of seconds from 1 to 3600") }
                settings.leaseSeconds = n
            case "path": settings.path = try v.nonEmptyString()
            case "url_env":
                settings.urlVariable = try v.environmentVariableName(k)
            case "archives": settings.archives = try v.nonEmptyString()
            case "require_review": settings.requireReview = try v.bool()
            case "expires_after":
                guard let p = Period(try v.nonEmptyString()), p.description != "P0D" else {
                    throw v.fail("expires_after must be a period such as P30D (days, weeks, months or years)")
                }
                settings.expiresAfter = p
            case "repeat_window":
                guard let p = Period(try v.nonEmptyString()) else {
                    throw v.fail("repeat_window must be a period of whole years, months, weeks or days such as P3M")
                }
                settings.repeatWindow = p
            default:
                var regionNode: MapNode?
                for (hk, hv) in try v.entries(allowed: ["country", "region", "extra"]) {
                    if hk == "country" {
                        let c = try hv.nonEmptyString().uppercased()
                        guard HolidayTable.countries.contains(c) else {
                            throw hv.fail("public holidays are built in for the EU and EEA states (\(HolidayTable.countries.joined(separator: ", "))); for \(c), list the dates under extra")
                        }
                        settings.holidayCountry = c
                    } else if hk == "region" {
                        regionNode = hv
                        settings.holidayRegion = try hv.nonEmptyString()
                    } else {
                        for item in try hv.list() {
                            guard let d = Day(try item.nonEmptyString()) else { throw item.fail("expected a date such as 2026-12-31") }
                            settings.extraHolidays.append(d)
                        }
                    }
                }
                if let regionNode, let region = settings.holidayRegion {
                    guard let country = settings.holidayCountry else { throw regionNode.fail("a holiday region needs its country (ledger.holidays.country)") }
                    let known = HolidayTable.regions(of: country)
                    guard known.contains(region) else {
                        throw regionNode.fail(known.isEmpty ? "\(country) has no regions with holidays of their own: leave out region"
                                              : "\(region) is not a region of \(country) with holidays of its own; the regions are \(known.joined(separator: ", "))")
                    }
                }
            }
        }
        if settings.path != nil, settings.urlVariable != nil {
            throw node.fail("the ledger is a SQLite file (path) or a PostgreSQL database (url_env), not both")
        }
        return settings
    }

    struct References {
        let purposes: Set<String>
        let categories: Set<String>
        let recipients: Set<String>
    }

    func readContact(_ node: MapNode, allowed: Set<String>, required: Set<String>) throws(DossierError) -> Contact {
        var c = Contact()
        for (k, v) in try node.entries(allowed: allowed, required: required) {
            let s = try v.nonEmptyString()
            switch k {
            case "name": c.name = s
            case "address": c.address = s
            case "email": c.email = s
            case "phone": c.phone = s
            case "website": c.website = try website(v)
            default: break
            }
        }
        return c
    }

    /// Websites are shown as links to the person: only http(s) addresses.
    func website(_ node: MapNode) throws(DossierError) -> String {
        let s = try node.nonEmptyString()
        guard s.hasPrefix("https://") || s.hasPrefix("http://") else { throw node.fail("a website must be an http:// or https:// address") }
        return s
    }

    func readController(_ node: MapNode) throws(DossierError) -> Controller {
        let e = try node.entries(allowed: ["name", "address", "email", "phone", "website", "dpo", "supervisory_authority", "languages", "default_region"],
                                 required: ["name", "supervisory_authority", "languages", "default_region"])
        var contact = Contact(), dpo: Contact?, authority = Contact(), languages: [String] = [], region = ""
        var authorityCountry: String?
        for (k, v) in e {
            switch k {
            case "name": contact.name = try v.nonEmptyString()
            case "address": contact.address = try v.nonEmptyString()
            case "email": contact.email = try v.nonEmptyString()
            case "phone": contact.phone = try v.nonEmptyString()
            case "website": contact.website = try website(v)
            case "dpo": dpo = try readContact(v, allowed: ["name", "email", "address", "phone"], required: [])
            case "supervisory_authority":
                authority = try readContact(v, allowed: ["name", "address", "website", "email", "phone", "country"], required: ["name"])
                for (ak, av) in try v.entries() where ak == "country" {
                    let c = try av.nonEmptyString().uppercased()
                    guard c.count == 2, c.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                        throw av.fail("the supervisory authority's country must be a two-letter code such as DE")
                    }
                    authorityCountry = c
                }
            case "languages":
                languages = try v.stringList()
                if languages.isEmpty { throw v.fail("name at least one language") }
            case "default_region":
                region = try v.nonEmptyString().uppercased()
                guard region.count == 2, region.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                    throw v.fail("default_region must be a two-letter country code such as PL")
                }
            default: break
            }
        }
        return Controller(contact: contact, dpo: dpo, supervisoryAuthority: authority, languages: languages, defaultRegion: region,
                          authorityCountry: authorityCountry)
    }

    func decimal(_ node: MapNode) throws(DossierError) -> Decimal {
        let s = try node.string()
        guard DecimalText.isPlain(s), let d = Decimal(string: s) else {
            throw node.fail("expected a non-negative decimal amount such as 25.00")
        }
        return d
    }

    func readFees(_ node: MapNode) throws(DossierError) -> Fees {
        var currency = "", further = Decimal(0), perMB: Decimal?
        for (k, v) in try node.entries(allowed: ["currency", "further_copy", "per_megabyte"], required: ["currency", "further_copy"]) {
            switch k {
            case "currency":
                currency = try v.nonEmptyString()
                guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                    throw v.fail("currency must be an ISO 4217 code such as PLN")
                }
            case "further_copy": further = try decimal(v)
            case "per_megabyte": perMB = try decimal(v)
            default: break
            }
        }
        return Fees(currency: currency, furtherCopy: further, perMegabyte: perMB)
    }

    func readPurpose(_ id: String, _ node: MapNode) throws(DossierError) -> Purpose {
        var title: Translatable?, description: Translatable?, basis: LegalBasis?, interest: Translatable?, decision: AutomatedDecision?
        var basisNode = node
        for (k, v) in try node.entries(allowed: ["title", "description", "legal_basis", "legitimate_interest", "automated_decision"],
                                       required: ["title", "legal_basis"]) {
            switch k {
            case "title": title = try v.translatable()
            case "description": description = try v.translatable()
            case "legal_basis":
                basisNode = v
                let s = try v.string()
                guard let b = LegalBasis(rawValue: s) else {
                    throw v.fail("unknown legal basis '\(s)'; expected one of: \(LegalBasis.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                basis = b
            case "legitimate_interest": interest = try v.translatable()
            case "automated_decision":
                var logic: Translatable?, significance: Translatable?, consequences: Translatable?
                for (dk, dv) in try v.entries(allowed: ["logic", "significance", "consequences"], required: ["logic", "consequences"]) {
                    switch dk {
                    case "logic": logic = try dv.translatable()
                    case "significance": significance = try dv.translatable()
                    default: consequences = try dv.translatable()
                    }
                }
                decision = AutomatedDecision(logic: logic!, significance: significance, consequences: consequences!)
            default: break
            }
        }
        if basis == .legitimateInterests && interest == nil {
            throw basisNode.fail("purpose '\(id)' rests on legitimate interests: state the interest in legitimate_interest")
        }
        return Purpose(id: id, title: title!, description: description, legalBasis: basis!, legitimateInterest: interest, automatedDecision: decision)
    }

    func readRecipient(_ id: String, _ node: MapNode) throws(DossierError) -> Recipient {
        var title: Translatable?, description: Translatable?, country = "", safeguard: Translatable?
        var organisation: String?, dpfCertified = false
        var placeNode = node, dpfNode: MapNode?
        let entries = try node.entries(allowed: ["title", "description", "country", "international_organisation", "safeguard", "dpf_certified"],
                                       required: ["title"])
        for (k, v) in entries {
            switch k {
            case "title": title = try v.translatable()
            case "description": description = try v.translatable()
            case "country":
                placeNode = v
                country = try v.nonEmptyString().uppercased()
                guard country.count == 2, country.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                    throw v.fail("country must be a two-letter code such as US")
                }
            case "international_organisation":
                placeNode = v
                let code = try v.nonEmptyString().uppercased()
                guard AdequacyDecision.organisations.contains(code) else {
                    throw v.fail("international_organisation must be one of \(AdequacyDecision.organisations.sorted().joined(separator: ", ")) (the organisations Dossier knows); for another, name its country and the Art. 46 safeguard")
                }
                organisation = code
            case "dpf_certified":
                dpfNode = v
                dpfCertified = try v.bool()
            default: safeguard = try v.translatable()
            }
        }
        let keys = Set(entries.map(\.0))
        if keys.contains("country") == keys.contains("international_organisation") {
            throw node.fail("recipient '\(id)' needs exactly one of country (a two-letter code such as US) and international_organisation")
        }
        let r = Recipient(id: id, title: title!, description: description, country: country, safeguard: safeguard,
                          internationalOrganisation: organisation, dpfCertified: dpfCertified)
        if let dpfNode, r.adequacyDecision(on: today)?.scope != AdequacyDecision.Scope.dataPrivacyFramework {
            throw dpfNode.fail("dpf_certified is for recipients in the United States (the EU-U.S. Data Privacy Framework); recipient '\(id)' is in \(organisation ?? country)")
        }
        if r.transferBasis(on: today) == nil {
            if let d = r.adequacyDecision(on: today), d.scope == .dataPrivacyFramework {
                throw placeNode.fail("recipient '\(id)' is in the United States: the adequacy decision (\(d.decision)) covers only organisations certified under the Data Privacy Framework; say dpf_certified: true if it is, else name the Art. 46 safeguard in safeguard")
            }
            throw placeNode.fail("recipient '\(id)' is outside the EEA, where no adequacy decision (Art. 45) is in force: name the safeguard of Art. 46 in safeguard")
        }
        return r
    }

    /// Keys every source has; a kind adds its own (`SourceKindDefinition.sourceKeys`).
    static let sourceKeys: Set<String> = ["title", "description", "kind", "datasets"]
    /// Keys every dataset has; a kind adds its own (`SourceKindDefinition.datasetKeys`).
    static let datasetKeys: Set<String> = ["title", "description", "key", "lookup", "yields", "purposes", "recipients",
                                           "retention", "origin", "from", "fields"]

    func readSource(_ id: String, _ node: MapNode, _ refs: References) throws(DossierError) -> Source {
        guard IdentifierKind.isValidName(id) || id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw node.fail("source id '\(id)' may hold only letters, digits, '_' and '-'")
        }
        guard let kindNode = try node.entries().first(where: { $0.0 == "kind" })?.1 else {
            throw node.fail("missing required key 'kind'")
        }
        let kindName = try kindNode.nonEmptyString()
        if plannedKinds.contains(kindName) {
            throw kindNode.fail("source kind '\(kindName)' is not yet supported by this version of Dossier (supported: \(kindNames))")
        }
        guard let kind = kinds.first(where: { $0.name == kindName }) else {
            throw kindNode.fail("unknown source kind '\(kindName)'; expected one of: \(kindNames)")
        }
        let e = try node.entries(allowed: Self.sourceKeys.union(kind.sourceKeys), required: ["kind", "datasets"])
        var source = Source(id: id, title: nil, description: nil, kind: kindName, path: nil, options: [:], datasets: [],
                            location: node.location)
        for (k, v) in e {
            switch k {
            case "title": source.title = try v.translatable()
            case "description": source.description = try v.translatable()
            case "kind", "datasets": break
            default: try kind.read(sourceKey: k, v, into: &source)
            }
        }
        for (k, v) in e where k == "datasets" {
            let entries = try v.entries()
            if entries.isEmpty { throw v.fail("at least one dataset is needed") }
            for (dsID, ds) in entries {
                source.datasets.append(try readDataset(dsID, ds, kind: kind, source: source, refs))
            }
        }
        return source
    }

    func readDataset(_ id: String, _ node: MapNode, kind: any SourceKindDefinition.Type, source: Source,
                     _ refs: References) throws(DossierError) -> Dataset {
        guard id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw node.fail("dataset id '\(id)' may hold only letters, digits, '_' and '-'")
        }
        let e = try node.entries(allowed: Self.datasetKeys.union(kind.datasetKeys), required: ["lookup", "purposes", "origin", "retention"])
        var ds = Dataset(id: id, title: nil, description: nil, path: nil, key: [], lookups: [], yields: [], filter: [],
                         record: nil, purposes: [], recipients: [], retention: nil, origin: .subject, from: nil,
                         fields: [], location: node.location)
        var yieldsNode: MapNode?, originNode = node
        for (k, v) in e {
            switch k {
            case "title": ds.title = try v.translatable()
            case "description": ds.description = try v.translatable()
            case "key": ds.key = try v.stringOrList().map(FieldPath.init)
            case "lookup":
                let entries = try v.entries()
                if entries.isEmpty { throw v.fail("a dataset needs at least one lookup") }
                for (kindName, expr) in entries {
                    guard IdentifierKind.isValidName(kindName) else {
                        throw expr.fail("'\(kindName)' is not an identifier kind (lower-case letters, digits and _)")
                    }
                    let text = try expr.nonEmptyString()
                    try kind.check(lookup: text, at: expr)
                    ds.lookups.append(Lookup(kind: IdentifierKind(kindName), expression: text, location: expr.location))
                }
            case "yields":
                yieldsNode = v
                for (kindName, paths) in try v.entries() {
                    guard IdentifierKind.isValidName(kindName) else {
                        throw paths.fail("'\(kindName)' is not an identifier kind (lower-case letters, digits and _)")
                    }
                    ds.yields.append(Yield(kind: IdentifierKind(kindName), paths: try paths.stringOrList().map(FieldPath.init),
                                           location: paths.location))
                }
            case "purposes":
                ds.purposes = try v.stringOrList()
                if ds.purposes.isEmpty { throw v.fail("name at least one purpose") }
                for (i, p) in ds.purposes.enumerated() where !refs.purposes.contains(p) {
                    throw v.child("\(i)", v.node).fail("purpose '\(p)' is not defined under purposes")
                }
            case "recipients":
                ds.recipients = try v.stringOrList()
                for r in ds.recipients where !refs.recipients.contains(r) {
                    throw v.fail("recipient '\(r)' is not defined under recipients")
                }
            case "retention":
                var r = Retention(period: nil, criteria: nil)
                for (rk, rv) in try v.entries(allowed: ["period", "criteria"]) {
                    if rk == "period" {
                        let p = try rv.nonEmptyString()
                        guard DataMapLoader.isISO8601Duration(p) else {
                            throw rv.fail("period must be an ISO 8601 duration such as P3Y or P6M")
                        }
                        r.period = p
                    } else {
                        r.criteria = try rv.translatable()
                    }
                }
                if r.period == nil && r.criteria == nil { throw v.fail("give a retention period, criteria, or both") }
                ds.retention = r
            case "origin":
                originNode = v
                let s = try v.string()
                guard let o = Origin(rawValue: s) else {
                    throw v.fail("unknown origin '\(s)'; expected one of: \(Origin.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                ds.origin = o
            case "from": ds.from = try v.translatable()
            case "fields":
                for (path, f) in try v.entries() { ds.fields.append(try readField(path, f, refs)) }
            default: try kind.read(datasetKey: k, v, into: &ds)
            }
        }
        if ds.origin == .thirdParty && ds.from == nil {
            throw originNode.fail("data that did not come from the person needs 'from:' saying where it came from (Art. 15(1)(g))")
        }
        try kind.check(dataset: ds, in: source, at: node)
        if let yieldsNode {
            for y in ds.yields {
                for path in y.paths {
                    if let f = ds.field(path.description), f.thirdParty {
                        throw yieldsNode.child(y.kind.name, yieldsNode.node).fail(
                            "yields may not follow the third-party field '\(path)': another person's identifiers must not pull in their records")
                    }
                }
            }
        }
        return ds
    }

    func readField(_ path: String, _ node: MapNode, _ refs: References) throws(DossierError) -> FieldSpec {
        var spec = FieldSpec(path: FieldPath(path), title: nil, description: nil, category: "", origin: nil, portable: nil, thirdParty: false)
        for (k, v) in try node.entries(allowed: ["title", "description", "category", "origin", "portable", "third_party"], required: ["category"]) {
            switch k {
            case "title": spec.title = try v.translatable()
            case "description": spec.description = try v.translatable()
            case "category":
                spec.category = try v.nonEmptyString()
                guard refs.categories.contains(spec.category) else {
                    throw v.fail("category '\(spec.category)' is not defined under categories")
                }
            case "origin":
                let s = try v.string()
                guard let o = Origin(rawValue: s) else { throw v.fail("unknown origin '\(s)'") }
                spec.origin = o
            case "portable":
                spec.portable = try v.bool()
                if spec.portable == true {
                    // Allowed but meaningless: a map can only narrow portability.
                    spec.portable = nil
                }
            case "third_party": spec.thirdParty = try v.bool()
            default: break
            }
        }
        return spec
    }
}

extension DataMapLoader {
    /// Checked by hand, as amounts are (`DecimalText`): a regular expression is compiled by ICU on
    /// its first use in a process, and the two were a tenth of loading a map.
    ///
    /// An ISO 8601 duration as the map accepts one, `^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$`
    /// with ASCII digits: `P3Y`, `P1Y6M`, `P2W`, `PT12H`, `P1DT2H30M`; not `P`, `PT`, `P1YT`, `P1M1Y`.
    static func isISO8601Duration(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count > 1, b[0] == UInt8(ascii: "P") else { return false }
        var i = 1
        /// Digit runs each followed by one of `units`, in their order, each at most once; stops at
        /// the end or at a byte that starts no digit run. False on a run without a unit after it.
        func components(_ units: [UInt8]) -> Bool {
            var next = 0
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { i += 1 }
                guard i < b.count, let k = units[next...].firstIndex(of: b[i]) else { return false }
                next = k + 1
                i += 1
            }
            return true
        }
        guard components(Array("YMWD".utf8)) else { return false }
        if i < b.count, b[i] == UInt8(ascii: "T") {
            i += 1
            guard i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]), components(Array("HMS".utf8)) else { return false }
        }
        return i == b.count
    }
}
