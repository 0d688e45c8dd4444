import DossierCollectors
import DossierMap
import DossierModel
import Testing

/// Chapter V: which recipients outside the EEA need an Art. 46 safeguard, and what the map must say.
@Suite struct TransferBasisTests {
    func load(_ recipient: String, today: String = "2026-12-06") throws(DossierError) -> DataMap {
        var loader = CollectorRegistry.mapLoader
        loader.today = today
        let yaml = dataMapYAML(sources: listSource)
            .replacingOccurrences(of: "mailer: { title: Mailer, country: US, safeguard: SCC }", with: "mailer: \(recipient)")
        return try loader.load(yaml: yaml, file: "map.yaml")
    }

    @Test func theTableHasOneDecisionPerDestination() {
        let destinations = AdequacyDecision.all.map(\.destination)
        #expect(Set(destinations).count == destinations.count)
        #expect(destinations.count == 17)
        for d in AdequacyDecision.all {
            #expect(!Recipient.eea.contains(d.destination), "\(d.destination) is in the EEA")
            #expect(d.adopted.count == 10 && d.adopted <= AdequacyDecision.checked)
        }
    }

    @Test func decisionsAreInForceBetweenAdoptionAndExpiry() {
        #expect(AdequacyDecision.find(for: "BR", on: "2026-01-25") == nil)
        #expect(AdequacyDecision.find(for: "BR", on: "2026-01-26")?.decision == "Commission Implementing Decision (EU) 2026/179")
        #expect(AdequacyDecision.find(for: "GB", on: "2031-12-27") != nil)
        #expect(AdequacyDecision.find(for: "GB", on: "2031-12-28") == nil)
        #expect(AdequacyDecision.find(for: "gb", on: "2026-12-06")?.until == "2031-12-27")
        #expect(AdequacyDecision.find(for: "CN", on: "2026-12-06") == nil)
    }

    @Test func aCanadianRecipientNeedsNoSafeguard() throws {
        let r = try #require(try load("{ title: Host, country: CA }").recipient("mailer"))
        guard case .adequacy(let d)? = r.transferBasis(on: "2026-12-06") else { Issue.record("no adequacy"); return }
        #expect(d.decision == "Commission Decision 2002/2/EC")
        #expect(d.scope == .pipeda)
    }

    @Test func aUSRecipientNeedsTheDataPrivacyFrameworkOrASafeguard() throws {
        let error = try #require(throws: DossierError.self) { try load("{ title: Host, country: US }") }
        #expect(error.message == "recipient 'mailer' is in the United States: the adequacy decision (Commission Implementing Decision (EU) 2023/1795) covers only organisations certified under the Data Privacy Framework; say dpf_certified: true if it is, else name the Art. 46 safeguard in safeguard")
        #expect(error.location?.key == "recipients.mailer.country")
        let certified = try #require(try load("{ title: Host, country: US, dpf_certified: true }").recipient("mailer"))
        #expect(certified.transferBasis(on: "2026-12-06") == .adequacy(AdequacyDecision.find(for: "US", on: "2026-12-06")!))
        let notCertified = try #require(try load("{ title: Host, country: US, dpf_certified: false, safeguard: SCC }").recipient("mailer"))
        guard case .safeguard? = notCertified.transferBasis(on: "2026-12-06") else { Issue.record("no safeguard"); return }
    }

    @Test func dpfCertifiedIsForTheUnitedStatesOnly() throws {
        let error = try #require(throws: DossierError.self) { try load("{ title: Host, country: CA, dpf_certified: true }") }
        #expect(error.message.contains("dpf_certified is for recipients in the United States"))
        #expect(error.location?.key == "recipients.mailer.dpf_certified")
    }

    @Test func aCountryWithoutADecisionNeedsASafeguard() throws {
        let error = try #require(throws: DossierError.self) { try load("{ title: Host, country: IN }") }
        #expect(error.message == "recipient 'mailer' is outside the EEA, where no adequacy decision (Art. 45) is in force: name the safeguard of Art. 46 in safeguard")
        _ = try load("{ title: Host, country: IN, safeguard: Binding corporate rules }")
    }

    @Test func anExpiredDecisionNoLongerCounts() throws {
        _ = try load("{ title: Host, country: GB }", today: "2031-12-27")
        let error = try #require(throws: DossierError.self) { try load("{ title: Host, country: GB }", today: "2031-12-28") }
        #expect(error.message.contains("no adequacy decision (Art. 45) is in force"))
    }

    @Test func anInternationalOrganisation() throws {
        let r = try #require(try load("{ title: Patents, international_organisation: EPO }").recipient("mailer"))
        #expect(r.isThirdCountry)
        #expect(r.country == "")
        guard case .adequacy(let d)? = r.transferBasis(on: "2026-12-06") else { Issue.record("no adequacy"); return }
        #expect(d.name == "European Patent Organisation")
        let both = try #require(throws: DossierError.self) { try load("{ title: Patents, country: DE, international_organisation: EPO }") }
        #expect(both.message.contains("needs exactly one of country"))
        let neither = try #require(throws: DossierError.self) { try load("{ title: Patents }") }
        #expect(neither.message.contains("needs exactly one of country"))
        let unknown = try #require(throws: DossierError.self) { try load("{ title: Health, international_organisation: WHO }") }
        #expect(unknown.message.hasPrefix("international_organisation must be one of EPO"))
    }
}
