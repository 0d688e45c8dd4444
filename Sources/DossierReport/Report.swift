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
        guard let folder = Report.resources?.appendingPathComponent("translations"),
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Loaded once per language and process (a batch renders thousands of pages).
    public init(language: String) throws(DossierError) {
        self = try Self.cache.value(for: language) { () throws(DossierError) in try Translations(loading: language) }
    }

    private static let cache = OncePerKey<Translations>()

    private init(loading language: String) throws(DossierError) {
        guard let url = Report.resources?.appendingPathComponent("translations/\(language).json"),
              let data = FileManager.default.contents(atPath: url.path) else {
            throw DossierError(.usage, "there are no texts in the language '\(language)' (available: \(Translations.available.joined(separator: ", ")))")
        }
        guard case .object(let fields)? = try? JSON.parse(Array(data)) else {
            throw DossierError(.internal, "the translation file is not a JSON object", at: SourceLocation(file: url.path))
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
    static var resources: URL? { Bundle.module.url(forResource: "Resources", withExtension: nil) }

    public static func renderIndex(_ context: [String: Any]) throws(DossierError) -> String {
        var context = context
        context["stylesheet"] = try stylesheet.get()
        guard let html = try library.get().render(context, withTemplate: "index") else {
            throw DossierError(.internal, "the index.html template is missing from the installation")
        }
        return html
    }

    /// `Resources/index.css`, inserted into the page's `<style>` as it is: it holds no tag, and braces
    /// cost swift-mustache's parser as much as tags do.
    private static let stylesheet: Result<String, DossierError> = {
        guard let url = resources?.appendingPathComponent("index.css"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            return .failure(DossierError(.internal, "the index.html stylesheet is missing from the installation"))
        }
        return .success(text)
    }()

    /// The templates, read and parsed once per process (parsing them took over a quarter of a batch's time).
    private static let library: Result<MustacheLibrary, DossierError> = {
        guard let root = resources else {
            return .failure(DossierError(.internal, "the index.html template is missing from the installation"))
        }
        var library = MustacheLibrary()
        let partials = root.appendingPathComponent("partials")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: partials.path)) ?? [])
            .filter { $0.hasSuffix(".mustache") }.sorted()
        let files = [("index", root.appendingPathComponent("index.mustache"))]
            + names.map { (String($0.dropLast(".mustache".count)), partials.appendingPathComponent($0)) }
        for (name, url) in files {
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                return .failure(DossierError(.internal, "the index.html template is missing from the installation",
                                             at: SourceLocation(file: url.path)))
            }
            do {
                library.register(try MustacheTemplate(string: text), named: name)
            } catch {
                return .failure(DossierError(.internal, "the index.html template does not parse (\(error))", at: SourceLocation(file: url.path)))
            }
        }
        return .success(library)
    }()
}

/// Values computed once per key and process, safe to ask for from several threads.
final class OncePerKey<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Value] = [:]

    func value(for key: String, _ make: () throws(DossierError) -> Value) throws(DossierError) -> Value {
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
