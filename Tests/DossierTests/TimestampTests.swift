import DossierLedger
import DossierModel
import Foundation
import Testing

/// The ledger's timestamps are read and written by hand (`Date(utcTimestamp:)`, `utcTimestamp`);
/// these check them against Foundation's ISO 8601 style, which they replace on the hot path.
@Suite struct TimestampTests {
    static let withMilliseconds: Date.ISO8601FormatStyle = {
        var f = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        f.timeZone = TimeZone(identifier: "UTC")!
        return f
    }()

    static let wholeSeconds: Date.ISO8601FormatStyle = {
        var f = Date.ISO8601FormatStyle()
        f.timeZone = TimeZone(identifier: "UTC")!
        return f
    }()

    /// Seconds from 1970 to 9999 (more of them from 2001 on), every millisecond value, and the edges.
    static func samples() -> [(seconds: Int, milliseconds: Int)] {
        var generator = SplitMix64(seed: 0x5EED)
        var out = (0..<20_000).map { k in (Int(generator.next() % 253_402_300_800), k % 1000) }
        out += (0..<2_000).map { k in (978_307_200 + Int(generator.next() % 2_000_000_000), k % 1000) }
        out += [(0, 0), (0, 999), (951_782_400, 0), (951_868_799, 999), (253_402_300_799, 999), (978_307_200, 1), (978_307_199, 999)]
        return out
    }

    @Test func readsWhatTheLedgerWritesToTheSameDateAsFoundation() throws {
        for (seconds, ms) in Self.samples() {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let whole = date.formatted(Self.wholeSeconds)
            let text = String(date.formatted(Self.withMilliseconds).prefix(20)) + String(1000 + ms).dropFirst() + "Z"
            let foundation = try Date(text, strategy: Self.withMilliseconds)
            if seconds >= 978_307_200 {
                #expect(Date(utcTimestamp: text)?.timeIntervalSinceReferenceDate == foundation.timeIntervalSinceReferenceDate, "\(text)")
            } else {
                #expect(Date(utcTimestamp: text) == nil, "\(text)")
            }
            #expect(AuditChain.date(text) == foundation, "\(text)")
            let wholeDate = try Date(whole, strategy: Self.wholeSeconds)
            #expect(Date(utcTimestamp: whole) == (seconds >= 978_307_200 ? wholeDate : nil), "\(whole)")
            #expect(AuditChain.date(whole) == wholeDate, "\(whole)")
        }
    }

    @Test func writesWholeSecondsAsFoundationDoes() {
        for (seconds, ms) in Self.samples() {
            for date in [Date(timeIntervalSince1970: TimeInterval(seconds) + Double(ms) / 1000),
                         Date(timeIntervalSinceReferenceDate: TimeInterval(seconds - 978_307_200) + Double(ms) / 1000)] {
                #expect(date.utcTimestamp == date.formatted(Self.wholeSeconds), "\(date.timeIntervalSince1970)")
            }
        }
        // Outside 1970-9999 the style itself writes it.
        let early = Date(timeIntervalSince1970: -86_400.5)
        #expect(early.utcTimestamp == early.formatted(Self.wholeSeconds))
    }

    @Test func refusesWhatItDoesNotRead() {
        for text in ["", "2026-01-31", "2026-01-31T09:00:00", "2026-01-31T09:00:00+01:00", "2026-01-31T09:00:00.5Z",
                     "2026-01-31T09:00:00.123456Z", "2026-02-30T09:00:00Z", "2026-01-31T24:00:00Z", "2026-01-31T09:60:00Z",
                     "2026-01-31 09:00:00Z", "2026-01-31T09:00:0xZ", "2026-01-31T09:00:00.12xZ", "２026-01-31T09:00:00Z"] {
            #expect(Date(utcTimestamp: text) == nil, "\(text)")
        }
        // What it refuses, AuditChain.date still reads through Foundation.
        #expect(AuditChain.date("2026-01-31T09:00:00.5Z") == Date(timeIntervalSince1970: 1_769_850_000.5))
    }
}
