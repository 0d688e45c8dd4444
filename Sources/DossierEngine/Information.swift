import DossierModel
import DossierReport
import Foundation

/// Builds `information.json`: the Art. 15(1)(a)–(h) and 15(2) information, for exactly the datasets
/// where this person has records.
struct InformationBuilder {
    let map: DataMap
    let t: Translations
    var kind: RequestKind = .access
    /// The day (YYYY-MM-DD) the bundle speaks of: transfers are named on the basis in force then.
    var day: String = AdequacyDecision.checked
    var language: String { t.language }

    /// Chapter V: the adequacy decision (Art. 45) or the safeguard (Art. 46) the data goes on.
    func transferBasis(_ r: Recipient) -> Value {
        switch r.transferBasis(on: day) ?? r.transferBasis(on: AdequacyDecision.checked) {
        case .adequacy(let d)?:
            var f = Fields([("article", .string("45")), ("kind", .string("adequacy_decision")), ("decision", .string(d.decision)),
                            ("adopted", .string(d.adopted))])
            if let until = d.until { f.append("until", .string(until)) }
            if d.scope != .whole { f.append("scope", .string(t["transfer.scope.\(d.scope.rawValue)"])) }
            return .object(f)
        case .safeguard(let s)?:
            return .object(Fields([("article", .string("46")), ("kind", .string("safeguard")), ("safeguard", text(s))]))
        case .insideEEA?, nil:
            return .null
        }
    }

    func text(_ t: Translatable?) -> Value {
        map.text(t, in: language).map { .string($0) } ?? .null
    }

    func build(stores: [DatasetStore]) -> Value {
        let held = stores.filter { $0.count > 0 }
        let heldIDs: [(Source, Dataset, DatasetStore)] = held.map { ($0.source, $0.dataset, $0) }
        func ref(_ s: Source, _ d: Dataset) -> Value { .string("\(s.id)/\(d.id)") }

        var purposes: [Value] = []
        var decisions: [Value] = []
        for purpose in map.purposes {
            let using = heldIDs.filter { $0.1.purposes.contains(purpose.id) }
            guard !using.isEmpty else { continue }
            var f = Fields([("id", .string(purpose.id)), ("title", text(purpose.title)),
                            ("legal_basis", .string(purpose.legalBasis.rawValue))])
            if let d = purpose.description { f.append("description", text(d)) }
            if let li = purpose.legitimateInterest { f.append("legitimate_interest", text(li)) }
            if let ad = purpose.automatedDecision {
                var a = Fields([("logic", text(ad.logic))])
                if let s = ad.significance { a.append("significance", text(s)) }
                a.append("consequences", text(ad.consequences))
                f.append("automated_decision", .object(a))
                var entry = Fields([("purpose", .string(purpose.id))])
                for (name, value) in a { entry.append(name, value) }
                decisions.append(.object(entry))
            }
            f.append("datasets", .array(using.map { ref($0.0, $0.1) }))
            purposes.append(.object(f))
        }

        var categoryIDs: [String] = []
        for (_, dataset, store) in heldIDs {
            // The categories of the described fields this person's records actually have.
            for field in dataset.fields where !categoryIDs.contains(field.category) {
                let path = field.path.description
                if store.columns.contains(where: { $0 == path || $0.hasPrefix(path + ".") }) { categoryIDs.append(field.category) }
            }
            if !store.undescribedFields.isEmpty && !categoryIDs.contains(Category.uncategorisedID) {
                categoryIDs.append(Category.uncategorisedID)
            }
        }
        let categories: [Value] = map.categories.filter { categoryIDs.contains($0.id) }.map { c in
            var f = Fields([("id", .string(c.id)), ("title", text(c.title))])
            if let d = c.description { f.append("description", text(d)) }
            return .object(f)
        } + (categoryIDs.contains(Category.uncategorisedID) && map.category(Category.uncategorisedID) == nil
             ? [.object(Fields([("id", .string(Category.uncategorisedID)), ("title", .string(t["category.uncategorised"]))]))] : [])

        let recipients: [Value] = map.recipients.compactMap { r in
            let using = heldIDs.filter { $0.1.recipients.contains(r.id) }
            guard !using.isEmpty else { return nil }
            var f = Fields([("id", .string(r.id)), ("title", text(r.title))])
            if let o = r.internationalOrganisation { f.append("international_organisation", .string(o)) } else {
                f.append("country", .string(r.country))
            }
            f.append("third_country", .bool(r.isThirdCountry))
            if let d = r.description { f.append("description", text(d)) }
            if let s = r.safeguard { f.append("safeguard", text(s)) }
            if r.isThirdCountry { f.append("transfer_basis", transferBasis(r)) }
            f.append("datasets", .array(using.map { ref($0.0, $0.1) }))
            return .object(f)
        }

        let retention: [Value] = heldIDs.compactMap { s, d, _ in
            guard let r = d.retention else { return nil }
            var f = Fields([("dataset", ref(s, d))])
            if let p = r.period { f.append("period", .string(p)) }
            if let c = r.criteria { f.append("criteria", text(c)) }
            return .object(f)
        }

        var origins: [Value] = []
        for (s, d, _) in heldIDs {
            var f = Fields([("dataset", ref(s, d)), ("origin", .string(d.origin.rawValue))])
            if let from = d.from { f.append("from", text(from)) }
            let fieldOrigins = d.fields.compactMap { field -> Value? in
                guard let o = field.origin, o != d.origin else { return nil }
                return .object(Fields([("field", .string(field.path.description)), ("origin", .string(o.rawValue))]))
            }
            if !fieldOrigins.isEmpty { f.append("fields", .array(fieldOrigins)) }
            origins.append(.object(f))
        }

        let c = map.controller
        var controller = Fields([("name", .string(c.contact.name ?? ""))])
        if let a = c.contact.address { controller.append("address", .string(a)) }
        if let e = c.contact.email { controller.append("email", .string(e)) }
        if let p = c.contact.phone { controller.append("phone", .string(p)) }
        if let w = c.contact.website { controller.append("website", .string(w)) }
        if let dpo = c.dpo { controller.append("dpo", Self.contact(dpo)) }

        var fields = Fields([
            ("schema_version", .number("1")),
            ("language", .string(language)),
            ("kind", .string(kind.rawValue)),
            ("has_data", .bool(!held.isEmpty)),
            ("summary", .string(summary(stores))),
            ("withheld_third_party", .bool(held.contains { $0.withheldThirdParty })),
            ("controller", .object(controller)),
            ("purposes", .array(purposes)),
            ("categories", .array(categories)),
            ("recipients", .array(recipients)),
            ("retention", .array(retention)),
            ("origins", .array(origins)),
            ("automated_decisions", .array(decisions)),
            ("rights", .array(Self.rights.map { id in .object(Fields([
                ("right", .string(id)), ("title", .string(t["right.\(id).title"])), ("text", .string(t["right.\(id).text"])),
            ])) })),
            ("supervisory_authority", Self.contact(c.supervisoryAuthority)),
        ])
        if kind == .portability {
            fields.append("portability", .object(Fields([("explanation", .string(t["section.portability.text"]))])))
        }
        return .object(fields)
    }

    /// The rights of Art. 15(1)(e)–(f) and the others a person should know of, in the order shown.
    static let rights = ["rectification", "erasure", "restriction", "objection", "portability", "withdraw_consent", "complaint"]

    func summary(_ stores: [DatasetStore]) -> String {
        let held = stores.filter { $0.count > 0 }
        if held.isEmpty { return t.text("summary.none") }
        return t.text(kind == .portability ? "summary.portability" : "summary.access",
                      ["count": String(held.reduce(0) { $0 + $1.count }), "datasets": String(held.count)])
    }

    static func contact(_ c: Contact) -> Value {
        var f = Fields()
        if let n = c.name { f.append("name", .string(n)) }
        if let a = c.address { f.append("address", .string(a)) }
        if let e = c.email { f.append("email", .string(e)) }
        if let p = c.phone { f.append("phone", .string(p)) }
        if let w = c.website { f.append("website", .string(w)) }
        return .object(f)
    }
}

