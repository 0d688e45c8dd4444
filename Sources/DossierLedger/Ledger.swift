import DossierModel
import Foundation

/// The durable store of requests, deliveries and the audit trail.
///
/// The engine speaks only to this protocol; `SQLiteLedger` implements it in one file, and a
/// PostgreSQL implementation can take its place (same semantics: every method is one transaction,
/// `claim` is atomic across processes, the audit trail is append-only and hash-chained). The methods
/// are `async` because a server's client is; SQLite's synchronous methods satisfy them as they are.
///
/// ```swift
/// let ledger = try SQLiteLedger(path: "ledger.sqlite")
/// let request = try await ledger.createRequest(draft, at: Date())
/// try await ledger.apply(RequestChange(to: .verified, note: "reply from the registered e-mail"), to: request.id, at: Date())
/// ```
public protocol Ledger: AnyObject, Sendable {
    /// Stores a new request with a fresh id (`DSR-<year>-<sequence>`), its history and audit rows.
    func createRequest(_ draft: NewRequest, at: Date) async throws(DossierError) -> RequestRecord
    func request(_ id: String) async throws(DossierError) -> RequestRecord?
    /// The request opened with this reference (`NewRequest.reference`), if any.
    func request(reference: String) async throws(DossierError) -> RequestRecord?
    /// Hands each request to `body` in id order, optionally only those in `statuses` and with a
    /// deadline in `deadlines`, without their history; all from one snapshot, read a page at a time,
    /// so memory does not grow with the ledger.
    func forEachRequest(statuses: Set<RequestStatus>?, deadlines: ClosedRange<Day>?,
                        _ body: (RequestRecord) throws(DossierError) -> Void) async throws(DossierError)
    /// Applies a status change if the request is still in one of `expected` (compare-and-set).
    func apply(_ change: RequestChange, to id: String, expecting expected: Set<RequestStatus>, at: Date) async throws(DossierError)
    /// Takes the request for producing a copy; throws `.busy` while a live process holds it. A claim
    /// whose process is gone (same host) is taken over.
    func claim(_ id: String, at: Date) async throws(DossierError) -> Claim
    /// Claims the due request with the earliest deadline (verified, no copy yet, not refused or
    /// withdrawn, no live claim on it), skipping what other processes hold; nil when none is left.
    /// Many processes calling it at once each get a different request. `excluding`: requests the
    /// caller does not want again (it failed on them).
    func claimNext(at: Date, excluding: Set<String>, approvedOnly: Bool) async throws(DossierError) -> Claim?
    func release(_ claim: Claim) async throws(DossierError)
    /// Extends the claim's lease; throws `.busy` when the claim was lost to another process.
    func renew(_ claim: Claim) async throws(DossierError)
    /// How often a claim's holder must renew it while it works; nil when claims do not expire.
    var renewalInterval: Duration? { get }
    /// Releases the ledger's connections; nothing is asked of it afterwards.
    func close() async
    /// Records a delivery as copy `delivery.copy` (unique per request), moves the request to
    /// fulfilled, writes history and audit, and releases the claim, all in one transaction;
    /// `beforeCommit` runs last inside it (the archive's rename), and its failure rolls all back.
    func recordDelivery(_ delivery: Delivery, for claim: Claim, note: String?,
                        beforeCommit: () throws(DossierError) -> Void) async throws(DossierError)
    /// Deliveries of other requests that share one of `identifiers`, delivered on or after `since`.
    func deliveries(sharing identifiers: [Identifier], since: Date) async throws(DossierError) -> [(requestID: String, delivery: Delivery)]
    /// The audit trail in order, as JSON objects.
    func auditRows(_ body: (Value) throws(DossierError) -> Void) async throws(DossierError)
    func verifyAudit() async throws(DossierError) -> AuditVerdict
    /// Deliveries whose archive expired before `day` and is not purged yet, oldest expiry first.
    func expiredDeliveries(before day: Day) async throws(DossierError) -> [(requestID: String, delivery: Delivery)]
    /// Records that copy `copy` of `requestID` was purged (with an audit row), running `beforeCommit`
    /// (the archive's deletion) as the transaction's last step; false when it was purged meanwhile.
    func markPurged(requestID: String, copy: Int, at: Date, beforeCommit: () throws(DossierError) -> Void) async throws(DossierError) -> Bool
    /// Records a transmission of a copy to another controller (accepted or failed), with an audit row
    /// (`transmitted` or `transmission_failed`), in one transaction.
    func recordTransmission(_ transmission: Transmission, requestID: String) async throws(DossierError)
}

extension Ledger {
    /// `forEachRequest` whatever the deadline.
    public func forEachRequest(statuses: Set<RequestStatus>?, _ body: (RequestRecord) throws(DossierError) -> Void) async throws(DossierError) {
        try await forEachRequest(statuses: statuses, deadlines: nil, body)
    }
}
