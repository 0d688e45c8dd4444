import DossierReport
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

    @Test func aQuoteFollowedByACombiningMarkIsStillEscaped() {
        // One Character ("\"" + U+0301) to Swift, but a quote that ends an attribute to a browser.
        #expect(escaped("x\"\u{301} onclick=1") == "x&quot;\u{301} onclick=1")
    }
}
