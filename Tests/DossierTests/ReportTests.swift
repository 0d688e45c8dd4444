@testable import DossierReport
import Foundation
import Testing

@Suite struct ReportTests {
    func escaped(_ s: String) -> String {
        var out: [UInt8] = []
        Report.appendHTMLEscaped(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: [
        ("", ""), ("plain", "plain"), ("Łódź 🙂", "Łódź 🙂"),
        ("<b>&\"'", "&lt;b&gt;&amp;&quot;&#39;"),
        ("a<b", "a&lt;b"), ("<", "&lt;"), ("x&", "x&amp;"), ("&&", "&amp;&amp;"),
        ("O'Brien <ob@example.ie>", "O&#39;Brien &lt;ob@example.ie&gt;"),
    ])
    func htmlEscapingAsTheTemplatesEscape(_ pair: (String, String)) {
        #expect(escaped(pair.0) == pair.1)
        // The same as the templates' own escaping wherever no combining mark follows a quote.
        #expect(escaped(pair.0) == Report.htmlEscaped(pair.0))
    }

    /// The warm-up's template parses and renders (were it to fail, nothing would say so and the
    /// page's first render would pay the runtime's look-ups again).
    @Test func theWarmUpRenders() {
        // One x for each look-up that finds a text: itself, through a dotted name, a section or
        // the stack of sections (12 of them).
        #expect(Report.warmUpRender() == String(repeating: "x", count: 12))
    }

    @Test func aQuoteFollowedByACombiningMarkIsStillEscaped() {
        // One Character ("\"" + U+0301) to Swift, but a quote that ends an attribute to a browser.
        #expect(escaped("x\"\u{301} onclick=1") == "x&quot;\u{301} onclick=1")
        #expect(Report.htmlEscaped("x\"\u{301} onclick=1") == "x&quot;\u{301} onclick=1")
        #expect(Report.htmlEscaped("<\u{338}a'\u{301}&\u{20DD}>") == "&lt;\u{338}a&#39;\u{301}&amp;\u{20DD}&gt;")
    }

    /// Every value the templates write is escaped byte by byte, also where swift-mustache's own
    /// escaping, which compares characters, would leave a quote followed by a combining mark.
    @Test(arguments: ["en", "pl"])
    func thePageEscapesEveryValueByteByByte(language: String) throws {
        let t = try Translations(language: language)
        let hostile = "Acme\"\u{301} onmouseover=alert(1) <\u{338}script>"
        let written = "Acme&quot;\u{301} onmouseover=alert(1) &lt;\u{338}script&gt;"
        let quote = "\"\u{301}", tag = "<\u{338}"
        let html = try Report.renderIndex(["controller": ["name": hostile, "website": hostile] as [String: Any], "has_data": true,
                                            "lang": language], translations: t)
        #expect(html.contains(written))
        #expect(!html.contains(quote))
        #expect(!html.contains(tag))
        let explanations = try Report.renderExplanations(["has_data": true, "controller": ["name": hostile] as [String: Any]], translations: t)
        #expect(explanations.contains(written))
        #expect(!explanations.contains(quote))
        #expect(!explanations.contains(tag))
    }

    /// `translated` as it was written with Foundation's `range(of:)`: the byte scan that replaced it
    /// must give the same text.
    static func reference(_ template: String, _ t: Translations) -> String {
        var out = ""
        var rest = template[...]
        while let open = rest.range(of: "{{t.") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let key = rest[open.upperBound..<close.lowerBound]
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                out += rest[..<close.upperBound]
                rest = rest[close.upperBound...]
                continue
            }
            out += rest[..<open.lowerBound]
            out += Report.htmlEscaped(t.texts[String(key)] ?? "")
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    @Test(arguments: ["en", "pl"])
    func everyTemplateTranslatedAsBefore(_ language: String) throws {
        let t = try Translations(language: language)
        let templates = EmbeddedResources.files.filter { $0.key.hasSuffix(".mustache") }
        #expect(templates.count >= 10)
        for (path, text) in templates {
            let translated = Report.translated(text, t)
            #expect(translated == Self.reference(text, t), "\(path) in \(language)")
            #expect(!translated.contains("{{t."), "\(path) in \(language): a text left untranslated")
        }
    }

    @Test(arguments: [
        "", "plain", "{{t.page.title}}", "a{{t.page.title}}b{{t.page.skip}}c", "{{t.page.title", "{{t.}}",
        "{{t.a b}} {{t.page.title}}", "{{t.page.title}}}}", "{{{t.page.title}}}", "{{t.zażółć}}x", "{{t.x\u{301}}}",
        "{{t.page.title}}{{t.", "Łódź {{t.page.offline}} 🙂", "{{t.missing.key}}", "{{t.page-title}}",
    ])
    func oddTemplatesTranslatedAsBefore(_ template: String) throws {
        let t = try Translations(language: "pl")
        #expect(Report.translated(template, t) == Self.reference(template, t))
    }
}
