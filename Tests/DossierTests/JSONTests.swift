import DossierModel
import Testing

@Suite struct JSONTests {
    @Test func keepsKeyOrderAndNumberText() throws {
        let v = try JSON.parse(#"{"b": 1230.00, "a": [true, null, "x\u00e9"], "c": {"d": -0.5e3}}"#)
        #expect(v.jsonText() == #"{"b":1230.00,"a":[true,null,"xé"],"c":{"d":-0.5e3}}"#)
        #expect(v.jsonText(canonical: true) == #"{"a":[true,null,"xé"],"b":1230.00,"c":{"d":-0.5e3}}"#)
    }

    @Test func rejectsBrokenText() {
        #expect(throws: JSON.SyntaxError.self) { try JSON.parse(#"{"a": }"#) }
        #expect(throws: JSON.SyntaxError.self) { try JSON.parse(#"{"a": 1} x"#) }
        #expect(throws: JSON.SyntaxError.self) { try JSON.parse("01") }
    }
}
