import DossierModel
import Foundation

/// Builds `information.json`: the Art. 15(1)(a)–(h) and 15(2) information, for exactly the datasets
/// where this person has records.
struct InformationBuilder {
    let map: DataMap
    let language: String
    var kind: RequestKind = .access

    var fallbacks: [String] { map.controller.languages + ["en"] }

    func text(_ t: Translatable?) -> Value {
        guard let t else { return .null }
        return .string(t.text(in: language, fallbacks: fallbacks))
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
             ? [.object(Fields([("id", .string(Category.uncategorisedID)), ("title", .string(Texts.uncategorised(language)))]))] : [])

        let recipients: [Value] = map.recipients.compactMap { r in
            let using = heldIDs.filter { $0.1.recipients.contains(r.id) }
            guard !using.isEmpty else { return nil }
            var f = Fields([("id", .string(r.id)), ("title", text(r.title)), ("country", .string(r.country)),
                            ("third_country", .bool(r.isThirdCountry))])
            if let d = r.description { f.append("description", text(d)) }
            if let s = r.safeguard { f.append("safeguard", text(s)) }
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

        return .object(Fields([
            ("schema_version", .number("1")),
            ("language", .string(language)),
            ("kind", .string(kind.rawValue)),
            ("has_data", .bool(!held.isEmpty)),
            ("summary", .string(held.isEmpty ? Texts.noData(language) : Texts.hasData(language, datasets: held.count))),
            ("controller", .object(controller)),
            ("purposes", .array(purposes)),
            ("categories", .array(categories)),
            ("recipients", .array(recipients)),
            ("retention", .array(retention)),
            ("origins", .array(origins)),
            ("automated_decisions", .array(decisions)),
            ("rights", .array(Texts.rights(language).map { .object(Fields([("right", .string($0.0)), ("text", .string($0.1))])) })),
            ("supervisory_authority", Self.contact(c.supervisoryAuthority)),
        ]))
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

/// The fixed texts of the information file, in English and Polish.
enum Texts {
    static func pick(_ language: String, en: String, pl: String) -> String { language == "pl" ? pl : en }

    static func noData(_ l: String) -> String {
        pick(l, en: "We searched every system listed in manifest.json and hold no personal data about you.",
             pl: "Przeszukaliśmy wszystkie systemy wymienione w manifest.json i nie przetwarzamy Twoich danych osobowych.")
    }

    static func hasData(_ l: String, datasets: Int) -> String {
        pick(l, en: "We process personal data about you: this copy holds it, from \(datasets) dataset(s), with the information below.",
             pl: "Przetwarzamy Twoje dane osobowe: ta kopia je zawiera (zbiory danych: \(datasets)) wraz z poniższymi informacjami.")
    }

    static func uncategorised(_ l: String) -> String {
        pick(l, en: "Other data (not yet categorised)", pl: "Inne dane (jeszcze nieskategoryzowane)")
    }

    static func rights(_ l: String) -> [(String, String)] {
        [
            ("rectification", pick(l, en: "You may ask us to correct inaccurate data about you and to complete incomplete data (Art. 16 GDPR).",
                                   pl: "Możesz żądać sprostowania nieprawidłowych danych i uzupełnienia niekompletnych (art. 16 RODO).")),
            ("erasure", pick(l, en: "You may ask us to erase your data (Art. 17 GDPR).",
                             pl: "Możesz żądać usunięcia swoich danych (art. 17 RODO).")),
            ("restriction", pick(l, en: "You may ask us to restrict the processing of your data (Art. 18 GDPR).",
                                 pl: "Możesz żądać ograniczenia przetwarzania swoich danych (art. 18 RODO).")),
            ("objection", pick(l, en: "You may object to processing based on legitimate interests, including profiling, and at any time to direct marketing (Art. 21 GDPR).",
                               pl: "Możesz wnieść sprzeciw wobec przetwarzania opartego na prawnie uzasadnionym interesie, w tym profilowania, a w każdej chwili wobec marketingu bezpośredniego (art. 21 RODO).")),
            ("portability", pick(l, en: "You may receive the data you provided, processed on consent or contract, in a machine-readable form (Art. 20 GDPR).",
                                 pl: "Możesz otrzymać dostarczone przez siebie dane, przetwarzane na podstawie zgody lub umowy, w formacie nadającym się do odczytu maszynowego (art. 20 RODO).")),
            ("withdraw_consent", pick(l, en: "Where processing rests on your consent, you may withdraw it at any time without affecting what was done before (Art. 7(3) GDPR).",
                                      pl: "Jeśli przetwarzanie opiera się na zgodzie, możesz ją w każdej chwili wycofać bez wpływu na wcześniejsze przetwarzanie (art. 7 ust. 3 RODO).")),
            ("complaint", pick(l, en: "You may lodge a complaint with the supervisory authority named below (Art. 77 GDPR).",
                               pl: "Możesz wnieść skargę do wskazanego niżej organu nadzorczego (art. 77 RODO).")),
        ]
    }
}
