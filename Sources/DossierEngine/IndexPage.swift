import DossierFormats
import DossierModel
import DossierReport
import Foundation

/// Builds the context of `index.html` from the information, the stores and the files, and renders it.
struct IndexPageBuilder {
    let map: DataMap
    let t: Translations
    /// Rows shown per dataset; the rest is in the CSV, JSON and XML files.
    static let rowsShown = 50
    /// Tables of more columns show each record as a block of "label: value" lines, not a wide table.
    static let widestTable = 6

    func text(_ tr: Translatable?) -> String? { map.text(tr, in: t.language) }

    func title(_ source: Source) -> String { text(source.title) ?? source.id }

    /// `P3Y` → "3 lata" / "3 years", with the plural forms of the translation files.
    func words(_ iso: String) -> String {
        guard let p = Period(iso) else { return iso }
        let parts = [("years", p.years), ("months", p.months), ("weeks", p.weeks), ("days", p.days)].filter { $0.1 > 0 }
        guard !parts.isEmpty else { return iso }
        return parts.map { unit, n in t.text("period.\(unit).\(Self.pluralForm(n, language: t.language))", ["n": String(n)]) }
            .joined(separator: t["period.separator"])
    }

    /// one / few / many: Polish distinguishes 2–4 (but not 12–14) from 5 and more; English has one and many.
    static func pluralForm(_ n: Int, language: String) -> String {
        if n == 1 { return "one" }
        if language == "pl", (2...4).contains(n % 10), !(12...14).contains(n % 100) { return "few" }
        return "many"
    }

    /// The country's name in the page's language, else its code.
    func countryName(_ code: String) -> String {
        Locale(identifier: t.language).localizedString(forRegionCode: code) ?? code
    }
    func title(_ dataset: Dataset) -> String { text(dataset.title) ?? dataset.id }

    /// A column's title for a person: the map's `fields.<name>.title`, else the name made readable
    /// (`first_name` → "First name", `OPTIN_TIME` → "Optin time", `address.city` → "Address: city").
    func columnTitle(_ name: String, in dataset: Dataset) -> String {
        text(dataset.field(name)?.title) ?? Self.readable(name)
    }

    static func readable(_ name: String) -> String {
        let parts = name.split(separator: ".").map { part -> String in
            var words: [String] = []
            var word = ""
            var previous: Character?
            for c in part {
                if c == "_" || c == "-" || c == " " {
                    if !word.isEmpty { words.append(word); word = "" }
                } else {
                    // camelCase: a capital after a small letter starts a word
                    if c.isUppercase, let p = previous, p.isLowercase, !word.isEmpty { words.append(word); word = "" }
                    word.append(c)
                }
                previous = c
            }
            if !word.isEmpty { words.append(word) }
            return words.map { w in
                let lower = w.lowercased()
                return ["id", "url", "ip", "iban", "vat", "nip"].contains(lower) ? lower.uppercased() : lower
            }.joined(separator: " ")
        }.filter { !$0.isEmpty }
        guard let first = parts.first else { return name }
        let head = first.prefix(1).uppercased() + first.dropFirst()
        return ([head] + parts.dropFirst()).joined(separator: ": ")
    }

    /// "12 records in 3 datasets", with the plural forms of the translation files.
    func records(_ n: Int, datasets: Int) -> String {
        let records = t.text("records.\(Self.pluralForm(n, language: t.language))", ["n": String(n)])
        return t.text("records.in_datasets.\(Self.pluralForm(datasets, language: t.language))", ["records": records, "n": String(datasets)])
    }

    /// A cell as the page shows it: the markers of withheld data in the page's language.
    func shown(_ cell: String) -> String {
        switch cell {
        case Redaction.marker: return t["marker.withheld_third_party"]
        case Redaction.reviewMarker: return t["marker.withheld_review"]
        default: return cell
        }
    }

    /// The parts of information.json the explanations are made of: what they may read (with the
    /// language, the map, and whether the person has data).
    static let explanationParts = ["controller", "supervisory_authority", "purposes", "categories", "recipients", "retention",
                                   "origins", "automated_decisions", "rights"]

    /// Renders the page; `explanations` is the run's cache of rendered explanations.
    func render(information: Value, stores: [DatasetStore], files: [(path: String, bytes: Int)],
                request: ExportRequest, summary: String, explanations: ExplanationsCache) throws(DossierError) -> String {
        guard case .object(let info) = information else { throw DossierError(.internal, "information.json is not an object") }
        func list(_ key: String) -> [Fields] {
            guard case .array(let items)? = info[key] else { return [] }
            return items.compactMap { if case .object(let f) = $0 { return f } else { return nil } }
        }
        func str(_ f: Fields, _ key: String) -> String? { f[key]?.scalarText }
        let byRef: [String: (Source, Dataset)] = Dictionary(uniqueKeysWithValues: stores.map { ("\($0.source.id)/\($0.dataset.id)", ($0.source, $0.dataset)) })
        func datasetTitle(_ ref: String?) -> String {
            guard let ref, let (s, d) = byRef[ref] else { return ref ?? "" }
            return "\(title(s)): \(title(d))"
        }

        var context: [String: Any] = [
            "lang": t.language, "request_id": request.requestID,
            "generated_at": request.asOf.utcTimestamp, "is_portability": request.kind == .portability,
            "has_data": stores.contains { $0.count > 0 }, "summary": summary,
            "withheld_third_party": stores.contains { $0.withheldThirdParty },
        ]
        if case .object(let controller)? = info["controller"] { context["controller"] = Report.context(.object(controller)) }
        if let authority = info["supervisory_authority"] { context["authority"] = Report.context(authority) }
        // The explanations (purposes to complaint) are made of these parts of information.json, the
        // map and the language alone (not its summary, which counts the person's records): rendered
        // once for each such text a run meets, and reused.
        let hasData = stores.contains { $0.count > 0 }
        let controller = context["controller"], authority = context["authority"]
        let parts = Self.explanationParts.map { name in (name, info[name] ?? .null) }
        let key = "\(t.language)\u{0}\(hasData)\u{0}" + Value.object(Fields(parts)).jsonText()
        context["explanations"] = try explanations.value(for: key) { () throws(DossierError) -> String in
            var e: [String: Any] = ["has_data": hasData]
            e["controller"] = controller
            e["authority"] = authority
            e["purposes"] = list("purposes").map { p -> [String: Any] in
                var d: [String: Any] = ["title": str(p, "title") ?? "", "legal_basis_label": t["legal_basis.\(str(p, "legal_basis") ?? "")"]]
                if let li = str(p, "legitimate_interest") { d["legitimate_interest"] = li }
                if case .array(let refs)? = p["datasets"] { d["datasets"] = refs.map { ["title": datasetTitle($0.scalarText)] } }
                return d
            }
            e["categories"] = list("categories").map { c -> [String: Any] in
                var d: [String: Any] = ["title": str(c, "title") ?? ""]
                if let desc = str(c, "description") { d["description"] = desc }
                return d
            }
            e["recipients"] = list("recipients").map { r -> [String: Any] in
                var d: [String: Any] = ["title": str(r, "title") ?? "", "third_country": r["third_country"] == .bool(true)]
                if let o = str(r, "international_organisation") {
                    d["place_label"] = t["section.recipients.international_organisation"]
                    d["place"] = t["international_organisation.\(o)"]
                } else {
                    d["place_label"] = t["section.recipients.country"]
                    d["place"] = countryName(str(r, "country") ?? "")
                }
                if let s = str(r, "safeguard") { d["safeguard"] = s }
                if case .object(let basis)? = r["transfer_basis"] {
                    if str(basis, "kind") == "adequacy_decision" {
                        let scope = str(basis, "scope").map { " (\($0))" } ?? ""
                        d["transfer_basis"] = "\(t["section.recipients.basis_adequacy"]): \(str(basis, "decision") ?? "")\(scope)"
                    } else {
                        d["transfer_basis"] = t["section.recipients.basis_safeguard"]
                    }
                }
                return d
            }
            e["retention"] = list("retention").map { r -> [String: Any] in
                var d: [String: Any] = ["dataset_title": datasetTitle(str(r, "dataset"))]
                if let p = str(r, "period") { d["period"] = words(p) }
                if let c = str(r, "criteria") { d["criteria"] = c }
                return d
            }
            // One card per origin other than the person (and per source it names), listing each dataset
            // once: whole, or only the fields whose origin differs from the dataset's own.
            struct OriginGroup { var label: String; var from: String?; var datasets: [(title: String, fields: [String])] = [] }
            var groups: [OriginGroup] = []
            func add(origin: String, from: String?, dataset: String, fields: [String]) {
                let label = t["origin.\(origin)"]
                let i: Int
                if let found = groups.firstIndex(where: { $0.label == label && $0.from == from }) { i = found } else {
                    groups.append(OriginGroup(label: label, from: from))
                    i = groups.count - 1
                }
                if let j = groups[i].datasets.firstIndex(where: { $0.title == dataset }) {
                    // the whole dataset already stands there; else the fields add up
                    if !groups[i].datasets[j].fields.isEmpty, !fields.isEmpty {
                        groups[i].datasets[j].fields += fields.filter { !groups[i].datasets[j].fields.contains($0) }
                    } else {
                        groups[i].datasets[j].fields = []
                    }
                } else {
                    groups[i].datasets.append((dataset, fields))
                }
            }
            for o in list("origins") {
                let dataset = datasetTitle(str(o, "dataset"))
                if let origin = str(o, "origin"), origin != Origin.subject.rawValue {
                    add(origin: origin, from: str(o, "from"), dataset: dataset, fields: [])
                }
                guard case .array(let fieldOrigins)? = o["fields"] else { continue }
                for case .object(let f) in fieldOrigins {
                    if let origin = str(f, "origin"), origin != Origin.subject.rawValue, let name = str(f, "field") {
                        let field = byRef[str(o, "dataset") ?? ""].map { columnTitle(name, in: $0.1) } ?? name
                        add(origin: origin, from: str(f, "from"), dataset: dataset, fields: [field])
                    }
                }
            }
            e["origins"] = groups.map { g -> [String: Any] in
                var d: [String: Any] = ["origin_label": g.label, "datasets": g.datasets.map { ds -> [String: Any] in
                    var e: [String: Any] = ["title": ds.title]
                    if !ds.fields.isEmpty { e["fields"] = ds.fields.joined(separator: ", ") }
                    return e
                }]
                if let from = g.from { d["from"] = from }
                return d
            }
            e["automated"] = list("automated_decisions").map { a -> [String: Any] in
                var d: [String: Any] = ["purpose_title": map.purpose(str(a, "purpose") ?? "").flatMap { text($0.title) } ?? "",
                                        "logic": str(a, "logic") ?? "", "consequences": str(a, "consequences") ?? ""]
                if let s = str(a, "significance") { d["significance"] = s }
                return d
            }
            e["rights"] = list("rights").map { ["title": str($0, "title") ?? "", "text": str($0, "text") ?? ""] }
            return try Report.renderExplanations(e, translations: t)
        }
        if request.kind == .portability, case .object(let p)? = info["portability"], let e = str(p, "explanation") {
            context["portability_explanation"] = e
        }
        var datasets: [[String: Any]] = []
        var systems: [(anchor: String, title: String, records: Int, datasets: Int)] = []
        for store in stores where store.count > 0 {
            var rows: [[String: Any]] = []
            let labels = store.columns.map { columnTitle($0, in: store.dataset) }
            // A row's cells are written here, escaped byte by byte, and the template puts them in
            // their row: through swift-mustache's dynamic look-ups, each cell's two values cost more
            // than all the rest of the page (1,000 requests of the bench data, --jobs 1, release:
            // 21.0 -> 17.8 s; the pages byte-identical).
            let cellOpen = labels.map { Array(("<td data-label=\"" + Report.htmlEscaped($0) + "\"><div class=\"v\">").utf8) }
            let cellClose = Array("</div></td>".utf8)
            var html: [UInt8] = []
            try store.forEachRecord(limit: Self.rowsShown) { record throws(DossierError) in
                var cells: [String: String] = [:]
                CSVDatasetWriter.flatten(record, prefix: "") { cells[$0] = $1 }
                html.removeAll(keepingCapacity: true)
                for (i, name) in store.columns.enumerated() {
                    html += cellOpen[i]
                    Report.appendHTMLEscaped(shown(cells[name] ?? ""), to: &html)
                    html += cellClose
                }
                rows.append(["cells": String(decoding: html, as: UTF8.self)])
            }
            let base = "data/\(store.source.id)/\(store.dataset.id)"
            let anchor = "data-\(store.source.id)-\(store.dataset.id)"
            if let i = systems.firstIndex(where: { $0.title == title(store.source) }) {
                systems[i].records += store.count
                systems[i].datasets += 1
            } else {
                systems.append((anchor, title(store.source), store.count, 1))
            }
            datasets.append([
                "source_title": title(store.source), "title": title(store.dataset), "count": String(store.count),
                "shown": String(rows.count), "truncated": rows.count < store.count, "anchor": anchor,
                "stacked": store.columns.count > Self.widestTable,
                "columns": zip(store.columns, labels).map { name, label -> [String: Any] in
                    var c: [String: Any] = ["label": label]
                    if label != name { c["raw"] = name }
                    return c
                }, "rows": rows,
                "json": base + ".json", "csv": base + ".csv", "xml": base + ".xml", "xlsx": base + ".xlsx",
            ])
        }
        context["datasets"] = datasets
        context["systems"] = systems.map { ["anchor": $0.anchor, "title": $0.title, "records": records($0.records, datasets: $0.datasets)] }
        context["searched"] = stores.map { ["source_title": title($0.source), "title": title($0.dataset), "count": String($0.count)] }
        context["files"] = files.map { ["path": $0.path, "bytes": String($0.bytes)] }
        return try Report.renderIndex(context, translations: t)
    }
}

/// The rendered explanations of `index.html`, by language, whether the person has data, and the
/// parts of information.json they are made of: a batch renders them once for each such text it
/// meets (the datasets that hold a person's data decide it) instead of once a person. At most
/// `limit` kept.
final class ExplanationsCache: @unchecked Sendable {
    private let lock = NSLock()
    private var rendered: [String: String] = [:]
    private let limit = 64

    func value(for key: String, _ make: () throws(DossierError) -> String) throws(DossierError) -> String {
        if let known = lock.withLock({ rendered[key] }) { return known }
        let made = try make()
        lock.withLock {
            if rendered.count >= limit { rendered.removeAll(keepingCapacity: true) }
            rendered[key] = made
        }
        return made
    }
}
