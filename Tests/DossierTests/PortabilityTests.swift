import DossierEngine
import DossierModel
import Testing

@Suite struct PortabilityTests {
    func dataset(origin: Origin, fields: [FieldSpec], purposes: [String] = ["training"]) -> Dataset {
        Dataset(id: "d", title: nil, description: nil, path: nil, key: [], lookups: [], yields: [], filter: [], record: nil,
                purposes: purposes, recipients: [], retention: nil, origin: origin, from: nil, fields: fields,
                location: SourceLocation(file: "map.yaml"))
    }

    func field(_ path: String, origin: Origin? = nil, portable: Bool? = nil, thirdParty: Bool = false) -> FieldSpec {
        FieldSpec(path: FieldPath(path), title: nil, description: nil, category: "c", origin: origin, portable: portable, thirdParty: thirdParty)
    }

    let record = Fields([
        ("id", .number("1")), ("email", .string("a@b.pl")), ("last_ip", .string("198.51.100.7")), ("score", .number("0.93")),
        ("referrer", .string("Tomasz")), ("billing", .object(Fields([("name", .string("Anna")), ("internal_code", .string("X"))]))),
    ])

    @Test func keepsOnlyWhatThePersonProvided() {
        let d = dataset(origin: .subject, fields: [
            field("last_ip", origin: .observed, portable: false), field("score", origin: .derived), field("referrer", thirdParty: true),
        ])
        let kept = Portability.filter(record, in: d)
        #expect(kept.names == ["id", "email", "billing"])
    }

    @Test func describedFieldsOfADerivedDatasetStay() {
        let d = dataset(origin: .derived, fields: [field("billing.name", origin: .subject)])
        let kept = Portability.filter(record, in: d)
        #expect(kept.names == ["billing"])
        #expect(kept["billing"] == .object(Fields([("name", .string("Anna"))])))
    }

    @Test func datasetsWithoutConsentOrContractAreExcluded() {
        let map = DataMap(file: "m.yaml", version: 1,
                          controller: Controller(contact: Contact(name: "C"), dpo: nil, supervisoryAuthority: Contact(name: "A"), languages: ["en"], defaultRegion: "PL"),
                          fees: nil,
                          purposes: [Purpose(id: "training", title: Translatable("T"), description: nil, legalBasis: .contract, legitimateInterest: nil, automatedDecision: nil),
                                     Purpose(id: "profiling", title: Translatable("P"), description: nil, legalBasis: .legitimateInterests, legitimateInterest: Translatable("x"), automatedDecision: nil)],
                          categories: [], recipients: [], sources: [], maxRounds: 5)
        #expect(Portability.exclusion(of: dataset(origin: .subject, fields: []), in: map) == nil)
        #expect(Portability.exclusion(of: dataset(origin: .subject, fields: [], purposes: ["profiling"]), in: map) != nil)
        #expect(Portability.exclusion(of: dataset(origin: .derived, fields: []), in: map) != nil)
    }

    @Test func thirdPartyValuesAreWithheldNullsStay() {
        let d = dataset(origin: .subject, fields: [field("referrer", thirdParty: true), field("billing.name", thirdParty: true)])
        let r = Redaction.apply(to: record.merging([("gone", .null)]), in: d)
        #expect(r["referrer"] == .string(Redaction.marker))
        #expect(r.value(at: FieldPath("billing.name")) == .string(Redaction.marker))
        #expect(r.value(at: FieldPath("billing.internal_code")) == .string("X"))
        #expect(r["gone"] == .null)
    }
}

extension Fields {
    func merging(_ more: [(String, Value)]) -> Fields {
        var copy = self
        for (k, v) in more { copy.append(k, v) }
        return copy
    }
}
