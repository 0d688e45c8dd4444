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

    @Test func hexIsLowerCaseTwoDigitsAByte() {
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string([0x00, 0x0f, 0x10, 0xab, 0xff]) == "000f10abff")
        // SHA-256("abc") (FIPS 180-2, appendix B.1), its bytes written out
        let digest: [UInt8] = [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                               0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad]
        #expect(Hex.string(digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
