import DossierLedger
import DossierModel
import Foundation
import Testing

@Suite struct LedgerTests {
    func draft(_ received: String = "2026-01-31") -> NewRequest {
        NewRequest(kind: .access, received: Day(received)!, firstDeadline: Day("2026-03-02")!, channel: "email", language: "pl",
                   identifiers: [Identifier(kind: .email, value: "anna@example.pl")], flags: [], evidence: [])
    }

    @Test func idsAreSequentialPerYearAndTheChainHolds() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ledger = try SQLiteLedger(path: dir.appendingPathComponent("l.sqlite").path)
        let a = try ledger.createRequest(draft(), at: Date())
        let b = try ledger.createRequest(draft(), at: Date())
        let c = try ledger.createRequest(draft("2027-01-02"), at: Date())
        #expect([a.id, b.id, c.id] == ["DSR-2026-0001", "DSR-2026-0002", "DSR-2027-0001"])
        try ledger.apply(RequestChange(to: .verified, note: "checked"), to: a.id, expecting: [.received], at: Date())
        #expect(throws: DossierError.self) {
            try ledger.apply(RequestChange(to: .verified, note: "again"), to: a.id, expecting: [.received], at: Date())
        }
        let verdict = try ledger.verifyAudit()
        #expect(verdict.rows == 4)
        #expect(verdict.firstBreak == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: ledger.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aCopyIsRecordedOnceUnderItsClaim() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ledger = try SQLiteLedger(path: dir.appendingPathComponent("l.sqlite").path)
        let r = try ledger.createRequest(draft(), at: Date())
        let claim = try ledger.claim(r.id, at: Date())
        // A second claim by a live process (this one) is refused.
        let busy = try #require(throws: DossierError.self) { _ = try ledger.claim(r.id, at: Date()) }
        #expect(busy.exitCode == 75)
        let d = Delivery(copy: 1, at: Date(), fee: "0.00", currency: "PLN", sha256: "ab", size: 10, format: "zip", path: "/x", fingerprint: "f")
        try ledger.recordDelivery(d, for: claim, note: nil, beforeCommit: {})
        #expect(try ledger.request(r.id)?.status == .fulfilled)
        // The claim is gone with the delivery; a second delivery of copy 1 is impossible.
        let again = try ledger.claim(r.id, at: Date())
        #expect(throws: DossierError.self) { try ledger.recordDelivery(d, for: again, note: nil, beforeCommit: {}) }
        let found = try ledger.deliveries(sharing: [Identifier(kind: .email, value: "anna@example.pl")], since: Date(timeIntervalSince1970: 0))
        #expect(found.count == 1)
    }
}

@Suite struct DeliveryCommitTests {
    @Test func aFailingRenameRollsTheDeliveryBack() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ledger = try SQLiteLedger(path: dir.appendingPathComponent("l.sqlite").path)
        let r = try ledger.createRequest(NewRequest(kind: .access, received: Day("2026-01-31")!, firstDeadline: Day("2026-03-02")!,
                                                    channel: "email", language: "pl", identifiers: [], flags: [], evidence: []), at: Date())
        let claim = try ledger.claim(r.id, at: Date())
        let d = Delivery(copy: 1, at: Date(), fee: "0.00", currency: "PLN", sha256: "ab", size: 10, format: "zip", path: "/x", fingerprint: "f")
        #expect(throws: DossierError.self) {
            try ledger.recordDelivery(d, for: claim, note: nil, beforeCommit: { () throws(DossierError) in
                throw DossierError(.outputWrite, "rename failed")
            })
        }
        let after = try #require(try ledger.request(r.id))
        #expect(after.deliveries.isEmpty)
        #expect(after.status == .received)
        #expect(try ledger.verifyAudit().rows == 1)
    }
}
