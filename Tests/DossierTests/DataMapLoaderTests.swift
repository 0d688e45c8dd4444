import DossierCollectors
@testable import DossierMap
import Foundation
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

    /// The day transfers are judged on is today's UTC date, as the Gregorian calendar gives it
    /// (taken on both sides of the call, in case midnight passes between them).
    @Test func todayIsTheUTCDate() {
        func calendarDay() -> String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let c = calendar.dateComponents([.year, .month, .day], from: Date())
            return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
        }
        let before = calendarDay(), today = DataMapLoader.utcToday(), after = calendarDay()
        #expect(today == before || today == after)
        #expect(today.utf8.count == 10)
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

/// The map's amounts and retention periods, checked by hand since 7 December, against the regular
/// expressions they were checked with before (with ASCII digits: ICU's `\d` also took other scripts'
/// digits, which `Period` and `Decimal` never read).
@Suite struct MapTextTests {
    static func matches(_ pattern: String, _ s: String) -> Bool {
        s.range(of: pattern, options: .regularExpression) != nil
    }
    static let decimal = #"^[0-9]+(\.[0-9]+)?$"#
    static let signedDecimal = #"^-?[0-9]+(\.[0-9]+)?$"#
    static let duration = #"^P(?!$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$"#

    @Test(arguments: ["0", "25", "25.00", "0.5", "007", "1.2.3", ".5", "5.", "", " 5", "5 ", "-1", "+1", "1e3", "1,5", "١٢", "12a", "..", "3.14159",
                      "-", "-0", "-2.5", "--1", "-.5", "-5.", "1-2", "- 1"])
    func amounts(_ s: String) {
        #expect(DecimalText.isPlain(s) == Self.matches(Self.decimal, s), "\(s)")
        // Signed: the key values a dataset's records are sorted by as numbers.
        #expect(DecimalText.isPlain(s, signed: true) == Self.matches(Self.signedDecimal, s), "\(s)")
    }

    @Test(arguments: ["P3Y", "P6M", "P1Y6M", "P2W", "P30D", "P1Y2M3W4D", "PT12H", "P1DT2H30M", "PT1S", "PT1H1M1S", "P0D",
                      "P", "PT", "P1YT", "P1M1Y", "P1Y1Y", "P5", "PT5", "PT1H2", "p1y", "P1Y ", " P1Y", "P1DT", "P1H", "PT1D",
                      "P١Y", "PP1Y", "P1YT1H1H", "P1W1D", "P1D1W", "P10000Y", "T1H", "P-1Y", "P1.5Y"])
    func durations(_ s: String) {
        #expect(DataMapLoader.isISO8601Duration(s) == Self.matches(Self.duration, s), "\(s)")
    }

    /// Every string of up to four symbols of the durations' alphabet, both ways.
    @Test func everyShortDuration() {
        let alphabet = ["P", "T", "1", "0", "Y", "M", "W", "D", "H", "S"]
        var strings = [""]
        var checked = 0
        for _ in 1...4 {
            strings = strings.flatMap { s in alphabet.map { s + $0 } }
            for s in strings where DataMapLoader.isISO8601Duration(s) != Self.matches(Self.duration, s) {
                Issue.record("'\(s)': by hand \(DataMapLoader.isISO8601Duration(s)), by the expression \(!DataMapLoader.isISO8601Duration(s))")
            }
            checked += strings.count
        }
        #expect(checked == 11_110)
    }
}
