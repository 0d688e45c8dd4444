import DossierModel
import Yams

/// A YAML node with the key path that led to it, so that every error can name file, line and key.
///
/// Source kinds read their own keys through it (`SourceKindDefinition`), with the same checks and
/// messages as the rest of the map.
public struct MapNode {
    public let node: Node
    public let keyPath: String
    public let file: String

    public init(node: Node, keyPath: String, file: String) { self.node = node; self.keyPath = keyPath; self.file = file }

    public var location: SourceLocation {
        SourceLocation(file: file, line: node.mark?.line, column: node.mark?.column, key: keyPath.isEmpty ? nil : keyPath)
    }

    public func fail(_ message: String) -> DossierError { DossierError(.dataMap, message, at: location) }

    /// The name of the environment variable that `key` names (a secret's or an address's: the map
    /// never holds the value itself).
    public func environmentVariableName(_ key: String) throws(DossierError) -> String {
        let name = try nonEmptyString()
        guard Self.isEnvironmentVariableName(name) else {
            throw fail("\(key) names an environment variable (letters, digits and _), not a value: secrets never stand in the map")
        }
        return name
    }

    /// A letter or `_`, then letters, digits and `_` (ASCII).
    public static func isEnvironmentVariableName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    public func child(_ key: String, _ node: Node) -> MapNode {
        MapNode(node: node, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)", file: file)
    }

    /// The entries of a mapping, in the file's order. Keys outside `allowed` (and not `x-…`) are errors;
    /// keys in `required` must be present. `allowed == nil` accepts any key (user-named entries).
    public func entries(allowed: Set<String>? = nil, required: Set<String> = []) throws(DossierError) -> [(String, MapNode)] {
        guard case .mapping(let mapping) = node else { throw fail("expected a mapping of keys to values") }
        var result: [(String, MapNode)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else { throw fail("keys must be plain text") }
            let key = keyScalar.string
            if key.hasPrefix("x-") { continue }
            let child = self.child(key, valueNode)
            if let allowed, !allowed.contains(key) {
                let keyLocation = SourceLocation(file: file, line: keyNode.mark?.line, column: keyNode.mark?.column, key: child.keyPath)
                let hint = allowed.sorted().joined(separator: ", ")
                throw DossierError(.dataMap, "unknown key '\(key)'; expected one of: \(hint) (or an x- note)", at: keyLocation)
            }
            if seen.contains(key) { throw child.fail("key '\(key)' is given twice") }
            seen.insert(key)
            result.append((key, child))
        }
        for key in required.sorted() where !seen.contains(key) {
            throw fail("missing required key '\(key)'")
        }
        return result
    }

    /// The scalar as text; YAML 1.1 booleans and numbers are not resolved (`NO` stays `NO`).
    public func string() throws(DossierError) -> String {
        guard case .scalar(let scalar) = node else { throw fail("expected a single value, not a list or mapping") }
        return scalar.string
    }

    public func nonEmptyString() throws(DossierError) -> String {
        let s = try string()
        if s.trimmingCharacters(in: .whitespaces).isEmpty { throw fail("must not be empty") }
        return s
    }

    public func int() throws(DossierError) -> Int {
        guard let n = Int(try string()) else { throw fail("expected a whole number") }
        return n
    }

    public func bool() throws(DossierError) -> Bool {
        switch try string() {
        case "true": return true
        case "false": return false
        default: throw fail("expected true or false")
        }
    }

    public func list() throws(DossierError) -> [MapNode] {
        guard case .sequence(let seq) = node else { throw fail("expected a list") }
        return seq.enumerated().map { child("\($0.offset)", $0.element) }
    }

    public func stringList() throws(DossierError) -> [String] {
        var out: [String] = []
        for item in try list() { out.append(try item.nonEmptyString()) }
        return out
    }

    /// A string, or a list of strings.
    public func stringOrList() throws(DossierError) -> [String] {
        if case .sequence = node { return try stringList() }
        return [try nonEmptyString()]
    }

    /// A string, or a map of language code → string.
    public func translatable() throws(DossierError) -> Translatable {
        if case .scalar = node { return Translatable(try nonEmptyString()) }
        var pairs: [(String, String)] = []
        for (lang, text) in try entries() {
            guard lang.count >= 2, lang.count <= 8, lang.allSatisfy({ $0.isLetter || $0 == "-" }) else {
                throw text.fail("'\(lang)' is not a language code")
            }
            pairs.append((lang, try text.nonEmptyString()))
        }
        if pairs.isEmpty { throw fail("expected a text or a map of language to text") }
        return Translatable(languages: pairs)
    }
}
