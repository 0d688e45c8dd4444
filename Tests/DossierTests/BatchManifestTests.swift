import DossierCollectors
import DossierEngine
import DossierModel
import Foundation
import Testing

@Suite struct BatchManifestTests {
    let map: DataMap

    init() throws {
        let yaml = dataMapYAML(sources: """
          list:
            kind: csv
            path: list.csv
            datasets:
              subscribers:
                lookup: { email: Email, crm_id: Id }
                purposes: [marketing]
                retention: { period: P2Y }
                origin: subject
        """)
        map = try CollectorRegistry.mapLoader.load(yaml: yaml, file: "map.yaml")
    }

    func read(_ text: String, ext: String) throws(DossierError) -> [BatchRequest] {
        let folder = try! temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("requests.\(ext)")
        try! text.write(to: url, atomically: true, encoding: .utf8)
        return try BatchManifest.read(url, map: map)
    }

    @Test func csvCellsHoldSeveralValues() throws {
        let requests = try read("request_id,email,crm_id,kind,format,x-note\nR-1,a@example.pl| b@example.pl ,17,portability,tar.gz,hi\nR-2,,18,,,\n", ext: "csv")
        #expect(requests.map(\.id) == ["R-1", "R-2"])
        #expect(requests[0].identifiers.map { "\($0.kind)=\($0.text)" } == ["email=a@example.pl", "email=b@example.pl", "crm_id=17"])
        #expect(requests[0].kind == .portability && requests[0].format == .tarGz && requests[0].problem == nil)
        #expect(requests[1].identifiers.map(\.text) == ["18"] && requests[1].kind == nil && requests[1].line == 3)
    }

    @Test func jsonLinesTakeStringsNumbersAndLists() throws {
        let requests = try read("""
            {"request_id": "R-1", "email": ["a@example.pl", "b@example.pl"], "crm_id": 17}

            {"request_id": "R-2", "email": "c@example.pl", "language": "pl"}
            """, ext: "jsonl")
        #expect(requests.map(\.line) == [1, 3])
        #expect(requests[0].identifiers.map(\.text) == ["a@example.pl", "b@example.pl", "17"])
        #expect(requests[1].language == "pl")
    }

    @Test func aBadRequestFailsAlone() throws {
        let requests = try read("request_id,email,kind,language,received\n../x,a@example.pl,,,\nR-2,,everything,de,2026-02-30\n", ext: "csv")
        #expect(requests[0].problem?.contains("request id may hold only") == true)
        let second = try #require(requests[1].problem)
        #expect(second.contains("neither access nor portability") && second.contains("not 'de'") && second.contains("not a date")
                && second.contains("no identifier"))
    }

    @Test func manifestErrorsNameTheLine() throws {
        let twice = try #require(throws: DossierError.self) { try read("request_id,email\nR-1,a@example.pl\nR-1,b@example.pl\n", ext: "csv") }
        #expect(twice.location?.line == 3 && twice.message.contains("given twice (first on line 2)"))
        let unknown = try #require(throws: DossierError.self) { try read("request_id,phone_number\nR-1,1\n", ext: "csv") }
        #expect(unknown.location?.line == 1 && unknown.message.contains("unknown column 'phone_number'") && unknown.message.contains("crm_id"))
        let json = try #require(throws: DossierError.self) { try read("{\"request_id\": \"R-1\", \"email\": \"a@example.pl\"}\n[1]\n", ext: "jsonl") }
        #expect(json.location?.line == 2 && json.message.contains("not a JSON object"))
    }
}
