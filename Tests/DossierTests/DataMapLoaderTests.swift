import DossierCollectors
import DossierMap
import DossierModel
import Testing

@Suite struct DataMapLoaderTests {
    let loader = CollectorRegistry.mapLoader

    func load(_ yaml: String) throws(DossierError) -> DataMap { try loader.load(yaml: yaml, file: "map.yaml") }

    let csvSource = listSource

    @Test func loadsAValidMap() throws {
        let map = try load(dataMapYAML(sources: csvSource))
        #expect(map.sources.count == 1)
        #expect(map.sources[0].datasets[0].lookups.map(\.kind) == [.email])
        #expect(map.recipient("mailer")?.isThirdCountry == true)
        #expect(map.maxRounds == 5)
        #expect(map.controller.defaultRegion == "PL")
    }

    @Test func unknownKeyNamesLineAndKey() throws {
        let yaml = dataMapYAML(sources: csvSource.replacingOccurrences(of: "origin: subject", with: "origin: subject\n        purpose: [x]"))
        let error = try #require(throws: DossierError.self) { try load(yaml) }
        #expect(error.kind == .dataMap)
        #expect(error.message.contains("unknown key 'purpose'"))
        #expect(error.location?.key == "sources.list.datasets.subscribers.purpose")
        let line = yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("purpose: [x]") }! + 1
        #expect(error.location?.line == line)
    }

    @Test func userNotesAreAllowed() throws {
        let yaml = dataMapYAML(sources: csvSource.replacingOccurrences(of: "origin: subject", with: "origin: subject\n        x-owner: marketing team"))
        #expect(throws: Never.self) { try load(yaml) }
    }

    @Test func undefinedPurposeIsRejected() throws {
        let error = try #require(throws: DossierError.self) {
            try load(dataMapYAML(sources: csvSource.replacingOccurrences(of: "[marketing]", with: "[marketting]")))
        }
        #expect(error.message.contains("purpose 'marketting' is not defined"))
    }

    @Test func undefinedCategoryIsRejected() throws {
        let error = try #require(throws: DossierError.self) {
            try load(dataMapYAML(sources: csvSource.replacingOccurrences(of: "category: contact", with: "category: contacts")))
        }
        #expect(error.message.contains("category 'contacts' is not defined"))
    }

    @Test func countryCodeNOIsNotABoolean() throws {
        let yaml = dataMapYAML(sources: csvSource).replacingOccurrences(of: "country: US, safeguard: SCC", with: "country: NO")
        let map = try load(yaml)
        #expect(map.recipient("mailer")?.country == "NO")
        #expect(map.recipient("mailer")?.isThirdCountry == false)
    }

    @Test func thirdCountryNeedsASafeguard() throws {
        // India: outside the EEA with no adequacy decision (TransferBasisTests has the rest of Chapter V).
        let yaml = dataMapYAML(sources: csvSource).replacingOccurrences(of: "country: US, safeguard: SCC", with: "country: IN")
        let error = try #require(throws: DossierError.self) { try load(yaml) }
        #expect(error.message.contains("outside the EEA"))
    }

    @Test func sqlMustBindValue() throws {
        let sql = """
          crm:
            kind: sqlite
            path: crm.sqlite
            datasets:
              contacts:
                lookup: { email: "SELECT * FROM contacts WHERE email = 'x'" }
                purposes: [service]
                retention: { period: P1Y }
                origin: subject
        """
        let error = try #require(throws: DossierError.self) { try load(dataMapYAML(sources: sql)) }
        #expect(error.message.contains(":value"))
        #expect(error.location?.key == "sources.crm.datasets.contacts.lookup.email")
        let other = sql.replacingOccurrences(of: "email = 'x'", with: "email = :value AND id = :id")
        let error2 = try #require(throws: DossierError.self) { try load(dataMapYAML(sources: other)) }
        #expect(error2.message.contains(":id"))
    }

    @Test func yieldsMayNotFollowThirdPartyFields() throws {
        let yaml = dataMapYAML(sources: csvSource.replacingOccurrences(of: "Email: { category: contact }",
            with: "Email: { category: contact }\n          Referrer: { category: contact, third_party: true }")
            .replacingOccurrences(of: "lookup: { email: Email }", with: "lookup: { email: Email }\n        yields: { email: Referrer }"))
        let error = try #require(throws: DossierError.self) { try load(yaml) }
        #expect(error.message.contains("third-party field 'Referrer'"))
    }

    @Test func plannedKindsAreNotYetSupported() throws {
        let loader = DataMapLoader(kinds: CollectorRegistry.mapLoader.kinds, plannedKinds: ["ldap"])
        let yaml = dataMapYAML(sources: csvSource.replacingOccurrences(of: "kind: csv", with: "kind: ldap"))
        let error = try #require(throws: DossierError.self) { try loader.load(yaml: yaml, file: "map.yaml") }
        #expect(error.message.contains("not yet supported"))
        #expect(error.exitCode == 64)
    }

    @Test func unknownKindsAreNamed() throws {
        let yaml = dataMapYAML(sources: csvSource.replacingOccurrences(of: "kind: csv", with: "kind: ftp"))
        let error = try #require(throws: DossierError.self) { try load(yaml) }
        #expect(error.message.hasPrefix("unknown source kind 'ftp'; expected one of: command, csv, http, jsonl, postgres, sqlite, xml"))
    }

    @Test func brokenYAMLNamesTheLine() throws {
        let error = try #require(throws: DossierError.self) { try load("version: 1\ncontroller: [a\n") }
        #expect(error.kind == .dataMap)
        #expect(error.location?.line != nil)
    }

    @Test func legitimateInterestMustBeStated() throws {
        let yaml = dataMapYAML(sources: csvSource).replacingOccurrences(of: "legal_basis: contract", with: "legal_basis: legitimate_interests")
        let error = try #require(throws: DossierError.self) { try load(yaml) }
        #expect(error.message.contains("legitimate_interest"))
    }
}
