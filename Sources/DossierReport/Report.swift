import DossierModel
import Foundation
import Mustache

/// The texts of the bundle in one language, from `Resources/translations/<language>.json`.
///
/// ```swift
/// let t = try Translations(language: "pl")
/// t["section.purposes.title"]                       // "Cele przetwarzania"
/// t.text("summary.has_data", ["count": "39"])       // placeholders {count} substituted
/// ```
public struct Translations: Sendable {
    public let language: String
    public let texts: [String: String]

    /// The languages that have a translation file.
    public static var available: [String] {
        EmbeddedResources.files.keys.filter { $0.hasPrefix("translations/") && $0.hasSuffix(".json") }
            .map { String($0.dropFirst("translations/".count).dropLast(5)) }.sorted()
    }

    /// Loaded once per language and process (a batch renders thousands of pages).
    public init(language: String) throws(DossierError) {
        self = try Self.cache.value(for: language) { () throws(DossierError) in try Translations(loading: language) }
    }

    private static let cache = OncePerKey<Translations>()

    private init(loading language: String) throws(DossierError) {
        let path = "translations/\(language).json"
        guard let text = Report.resource(path) else {
            throw DossierError(.usage, "there are no texts in the language '\(language)' (available: \(Translations.available.joined(separator: ", ")))")
        }
        guard case .object(let fields)? = try? JSON.parse(Array(text.utf8)) else {
            throw DossierError(.internal, "the translation file is not a JSON object", at: SourceLocation(file: "Resources/" + path))
        }
        var texts: [String: String] = [:]
        for (key, value) in fields { if case .string(let s) = value { texts[key] = s } }
        self.language = language
        self.texts = texts
    }

    public subscript(key: String) -> String { texts[key] ?? key }

    /// The text with `{name}` placeholders substituted.
    public func text(_ key: String, _ values: [String: String] = [:]) -> String {
        var s = self[key]
        for (name, value) in values { s = s.replacingOccurrences(of: "{\(name)}", with: value) }
        return s
    }

    /// The texts as a nested object split on dots, as the template reads them (`t.section.purposes.title`).
    public var nested: [String: Any] {
        var root: [String: Any] = [:]
        for (key, value) in texts { Self.insert(value, at: key.split(separator: ".").map(String.init)[...], into: &root) }
        return root
    }

    static func insert(_ value: String, at path: ArraySlice<String>, into dict: inout [String: Any]) {
        guard let first = path.first else { return }
        if path.count == 1 {
            if dict[first] == nil { dict[first] = value }
            return
        }
        var child = dict[first] as? [String: Any] ?? [:]
        insert(value, at: path.dropFirst(), into: &child)
        dict[first] = child
    }
}

/// Renders `index.html` from `Resources/index.mustache` and its partials (`Resources/partials/NAME.mustache`,
/// included as `{{> NAME}}`). Mustache escapes every value.
///
/// The page is split into one partial per section because swift-mustache's parser measures the distance
/// to the end of the template on every tag and brace it meets (quadratic in the template's size): one
/// 22 KB template took a sixth of a single export's CPU to parse; fifteen small ones and the stylesheet
/// kept out of the parser (`Resources/index.css`) take a fraction.
public enum Report {
    /// A file of `Resources/`, embedded in the binary (`EmbeddedResources.swift`, made by `embed.py`).
    static func resource(_ path: String) -> String? { EmbeddedResources.files[path] }

    /// The page in `translations`' language. The templates' `{{t.KEY}}` tags are filled in once per
    /// language and process, before the templates are parsed (escaped as Mustache escapes a value, an
    /// unknown key empty, as Mustache renders it): a page renders only the person's data, and a
    /// batch does not look up 128 texts through nested dictionaries for every page.
    public static func renderIndex(_ context: [String: Any], translations: Translations) throws(DossierError) -> String {
        var context = context
        context["stylesheet"] = try stylesheet.get()
        let templates = try libraries.value(for: translations.language) { () throws(DossierError) in try library(translations) }
        guard let html = templates.render(context, withTemplate: "index") else {
            throw DossierError(.internal, "the index.html template is missing from the installation")
        }
        return html
    }

    /// The explanations of `index.html` (purposes to complaint: `partials/explanations.mustache`),
    /// rendered from a context of their own, which the page then holds as `explanations`.
    public static func renderExplanations(_ context: [String: Any], translations: Translations) throws(DossierError) -> String {
        let templates = try libraries.value(for: translations.language) { () throws(DossierError) in try library(translations) }
        guard let html = templates.render(context, withTemplate: "explanations") else {
            throw DossierError(.internal, "the index.html template's explanations are missing from the installation")
        }
        return html
    }

    private static let libraries = OncePerKey<MustacheLibrary>()

    /// Parses the page's templates for `translations` on another thread, so that a single export
    /// finds them ready when it renders its page (parsing them took 4-5 ms of a 41 ms export, on the
    /// critical path while the second core was idle). A later render of the same language waits for
    /// this parse rather than doing it again; an error is left for that render to report.
    public static func prepare(_ translations: Translations) {
        DispatchQueue.global(qos: .userInitiated).async {
            _ = try? libraries.value(for: translations.language) { () throws(DossierError) in try library(translations) }
            warmUp()
        }
    }

    /// Renders, once per process, a small template over values of every type a page's context holds
    /// (texts, booleans, dictionaries, lists of them, as `IndexPageBuilder` and `context(_:)` make
    /// them), with the look-ups a page makes: names found and not found, dotted names, sections and
    /// inverted sections over each type. swift-mustache asks the Swift runtime whether each value's
    /// type conforms to its protocols, and the runtime answers the first question about a type by
    /// scanning every conformance record of this binary, then remembers the answer: asked here, on
    /// the thread that parsed the templates, while the export reads its sources, the page's own
    /// render finds the answers known. Nothing it renders is kept.
    static func warmUp() { _ = warmedUp }

    private static let warmedUp: Bool = warmUpRender() != nil

    /// The warm-up's render, nil if its template does not parse.
    static func warmUpRender() -> String? {
        let template = try? MustacheTemplate(string: """
        {{s}}{{n}}{{#b}}{{s}}{{/b}}{{^b}}{{/b}}{{#s}}{{.}}{{n}}{{/s}}{{^s}}{{/s}}{{d.s}}{{d.n}}{{#d}}{{s}}{{n}}{{/d}}{{^d}}{{/d}}\
        {{#d.s}}{{.}}{{n}}{{/d.s}}{{#d.b}}{{n}}{{/d.b}}{{#la}}{{s}}{{n}}{{d.s}}{{/la}}{{^la}}{{/la}}{{#ls}}{{s}}{{n}}{{/ls}}{{^ls}}{{/ls}}\
        {{#lany}}{{s}}{{n}}{{/lany}}{{^lany}}{{/lany}}{{#lstr}}{{.}}{{n}}{{/lstr}}{{#n}}{{/n}}{{^n}}{{/n}}{{#e}}{{/e}}{{^e}}{{/e}}
        """)
        let inner: [String: Any] = ["s": "x", "b": true, "d": ["s": "x"] as [String: Any]]
        let context: [String: Any] = [
            "s": "x", "b": false, "d": inner, "la": [inner], "ls": [["s": "x"]] as [[String: String]],
            "lany": ["x", inner, true] as [Any], "lstr": ["x"], "e": [] as [Any],
        ]
        return template?.render(context)
    }

    /// `{{t.a.b}}` in a template text replaced by the HTML-escaped text of `a.b`. Scanned as bytes:
    /// through `String.range(of:)` (Foundation's search) it was a third of preparing the templates.
    static func translated(_ template: String, _ t: Translations) -> String {
        let bytes = Array(template.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 2)
        let open: [UInt8] = Array("{{t.".utf8), close: [UInt8] = Array("}}".utf8)
        var rest = 0
        while let o = bytes[rest...].firstRange(of: open)?.lowerBound {
            guard let c = bytes[(o + open.count)...].firstRange(of: close)?.lowerBound else { break }
            let key = bytes[(o + open.count)..<c]
            // ASCII letters, digits, `_` and `.` decide most keys without making a string.
            let valid = key.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2E
            } || String(decoding: key, as: UTF8.self).allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
            guard valid else {
                out.append(contentsOf: bytes[rest..<(c + close.count)])
                rest = c + close.count
                continue
            }
            out.append(contentsOf: bytes[rest..<o])
            out.append(contentsOf: htmlEscaped(t.texts[String(decoding: key, as: UTF8.self)] ?? "").utf8)
            rest = c + close.count
        }
        out.append(contentsOf: bytes[rest...])
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` with `<`, `>`, `&`, `"` and `'` escaped as `htmlEscaped` escapes them, byte by
    /// byte (so also where a combining mark follows one of them, which a `Character` would hide).
    public static func appendHTMLEscaped(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            var run = 0
            for (i, b) in bytes.enumerated() {
                let entity: StaticString
                switch b {
                case UInt8(ascii: "<"): entity = "&lt;"
                case UInt8(ascii: ">"): entity = "&gt;"
                case UInt8(ascii: "&"): entity = "&amp;"
                case UInt8(ascii: "\""): entity = "&quot;"
                case UInt8(ascii: "'"): entity = "&#39;"
                default: continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
                out.append(contentsOf: UnsafeBufferPointer(start: entity.utf8Start, count: entity.utf8CodeUnitCount))
                run = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
    }

    /// `<`, `>`, `&`, `"` and `'` escaped byte by byte (`appendHTMLEscaped`), as every value of the
    /// page is. Compared by `Character`, as swift-mustache's own HTML escaping compares them, a quote
    /// followed by a combining mark is one character that is no quote, and was left as it was: a
    /// field name such as `a"\u{301} onclick=…` would have ended the attribute it was written into.
    public static func htmlEscaped(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        appendHTMLEscaped(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The page's values escaped by `htmlEscaped`: the templates that are rendered on their own
    /// (`index`, `explanations`) begin with `{{% CONTENT_TYPE: DOSSIER_HTML}}`, and their partials
    /// inherit it. Byte by byte it is also the faster: swift-mustache's escaping looked every
    /// character of every value up in a dictionary, a fifth of rendering a Chinook customer's page.
    struct PageHTML: MustacheContentType {
        func escapeText(_ text: String) -> String { htmlEscaped(text) }
    }

    /// Registers `PageHTML` before the first template that names it is parsed.
    private static let pageHTMLRegistered: Bool = {
        MustacheContentTypes.register(PageHTML(), named: "DOSSIER_HTML")
        return true
    }()

    /// `Resources/index.css`, inserted into the page's `<style>` as it is: it holds no tag, and braces
    /// cost swift-mustache's parser as much as tags do.
    private static let stylesheet: Result<String, DossierError> = {
        guard let text = resource("index.css") else {
            return .failure(DossierError(.internal, "the index.html stylesheet is missing from the installation"))
        }
        return .success(text)
    }()

    /// The templates, read and parsed once per process (parsing them took over a quarter of a batch's time).
    private static func library(_ t: Translations) throws(DossierError) -> MustacheLibrary {
        if let key = t.texts.first(where: { $0.value.contains("{{") })?.key {
            throw DossierError(.internal, "the text '\(key)' holds '{{', which the page's templates would read as a tag",
                               at: SourceLocation(file: "Resources/translations/\(t.language).json"))
        }
        _ = pageHTMLRegistered
        var library = MustacheLibrary()
        let names = EmbeddedResources.files.keys.filter { $0 == "index.mustache" || ($0.hasPrefix("partials/") && $0.hasSuffix(".mustache")) }
        guard names.contains("index.mustache") else {
            throw DossierError(.internal, "the index.html template is missing from the installation")
        }
        for path in names.sorted() {
            let name = path == "index.mustache" ? "index" : String(path.dropFirst("partials/".count).dropLast(".mustache".count))
            do {
                library.register(try MustacheTemplate(string: translated(EmbeddedResources.files[path] ?? "", t)), named: name)
            } catch {
                throw DossierError(.internal, "the index.html template does not parse (\(error))", at: SourceLocation(file: "Resources/" + path))
            }
        }
        return library
    }
}

/// Values computed once per key and process, safe to ask for from several threads: a thread that
/// asks for a key being computed waits for it (one computation at a time; there are a few keys).
final class OncePerKey<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private let making = NSLock()
    private var values: [String: Value] = [:]

    func value(for key: String, _ make: () throws(DossierError) -> Value) throws(DossierError) -> Value {
        if let known = lock.withLock({ values[key] }) { return known }
        making.lock()
        defer { making.unlock() }
        if let known = lock.withLock({ values[key] }) { return known }
        let made = try make()
        lock.withLock { values[key] = made }
        return made
    }
}

extension Report {

    /// A `Value` as the template reads it: objects as dictionaries, lists as arrays, scalars as text.
    public static func context(_ value: Value) -> Any {
        switch value {
        case .null: return ""
        case .bool(let b): return b
        case .number(let n): return n
        case .string(let s): return s
        case .binary(let d): return d.base64EncodedString()
        case .array(let items): return items.map(context)
        case .object(let fields):
            var dict: [String: Any] = [:]
            for (k, v) in fields where !v.isNull { dict[k] = context(v) }
            return dict
        }
    }
}
