import DossierCollectors
import DossierMap
import Foundation
import Testing

/// `Schemas/datamap.schema.json` is the published contract of the data map: every key a source kind
/// declares (`SourceKindDefinition.sourceKeys`, `datasetKeys`) must be one of its properties, so a
/// map that Dossier accepts is not refused by the schema (the http and command sources' keys were
/// missing from it), and a kind added later cannot be left out unseen.
@Suite struct DataMapSchemaTests {
    static func schema() throws -> [String: Any] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Schemas/datamap.schema.json"))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func properties(_ schema: [String: Any], _ definition: String) throws -> Set<String> {
        let defs = try #require(schema["$defs"] as? [String: Any])
        let def = try #require(defs[definition] as? [String: Any])
        return Set(try #require(def["properties"] as? [String: Any]).keys)
    }

    @Test func everyKeyOfEveryKindIsInTheSchema() throws {
        let schema = try Self.schema()
        let sourceProperties = try Self.properties(schema, "source")
        let datasetProperties = try Self.properties(schema, "dataset")
        #expect(CollectorRegistry.kinds.count >= 7)
        for kind in CollectorRegistry.kinds {
            for key in kind.sourceKeys.sorted() {
                #expect(sourceProperties.contains(key), "kind \(kind.name): source key '\(key)' is not in Schemas/datamap.schema.json")
            }
            for key in kind.datasetKeys.sorted() {
                #expect(datasetProperties.contains(key), "kind \(kind.name): dataset key '\(key)' is not in Schemas/datamap.schema.json")
            }
        }
        for key in ["title", "description", "kind", "datasets"] { #expect(sourceProperties.contains(key)) }
        for key in ["title", "description", "key", "lookup", "yields", "purposes", "recipients", "retention", "origin", "from", "fields"] {
            #expect(datasetProperties.contains(key))
        }
    }

    @Test func theKindsAreTheSchemasKinds() throws {
        let schema = try Self.schema()
        let defs = try #require(schema["$defs"] as? [String: Any])
        let source = try #require(defs["source"] as? [String: Any])
        let properties = try #require(source["properties"] as? [String: Any])
        let kind = try #require(properties["kind"] as? [String: Any])
        let names = Set(try #require(kind["enum"] as? [String]))
        #expect(names == Set(CollectorRegistry.kinds.map { $0.name }))
    }
}
