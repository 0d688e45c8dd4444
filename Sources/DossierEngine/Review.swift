import DossierLedger
import DossierModel
import Foundation

/// Review before release: a person looks at the bundle before anything leaves, and approves it.
///
/// ```swift
/// let review = try await service.review("DSR-2026-0001", today: today)   // bundle in archives/review/DSR-2026-0001
/// try await service.approve("DSR-2026-0001", by: "A. Nowak (DPO)", today: today)
/// ```
///
/// With `ledger.require_review: true` in the map, a copy is produced only for an approved request,
/// and only while what it would hold is what was approved (the bundle's data fingerprint): data that
/// changed since the review must be reviewed again.
extension RequestService {
    /// What `review` built and found.
    public struct Review: Sendable {
        public let request: RequestRecord
        /// The bundle, unpacked, in a private folder (0700).
        public let folder: URL
        public let fingerprint: String
        public let counts: [(dataset: String, count: Int)]
        /// Per dataset with records: each identifier that found some, with how many.
        public let foundBy: [(dataset: String, identifiers: [(identifier: Identifier, records: Int)])]
        /// True when the review found what an earlier approval approved (which then still stands).
        public let approvalStands: Bool
    }

    /// Whether the map asks for review before release (`ledger.require_review`).
    public var requiresReview: Bool { map?.ledger.requireReview ?? false }

    /// Builds the bundle `id` would get now into `review/ID` in the archives folder (replacing an
    /// earlier review's), with `redactions` withheld, and records the review; an approval of other
    /// data no longer stands.
    public func review(_ id: String, redactions: ReviewRedactions? = nil, today: Day) async throws(DossierError) -> Review {
        if let redactions, redactions.reason.trimmingCharacters(in: .whitespaces).isEmpty || redactions.fields.isEmpty {
            throw DossierError(.usage, "fields withheld at review need their reason, which the person is told", missing: .reason)
        }
        let map = try requireMap("reviewing a request")
        let r = try await request(id)
        try checkNotClosed(r)
        let reviews = try archiveFolder().appendingPathComponent("review")
        let folder = reviews.appendingPathComponent(r.id)
        do {
            try FileManager.default.createDirectory(at: reviews, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if FileManager.default.fileExists(atPath: folder.path) { try FileManager.default.removeItem(at: folder) }
        } catch {
            throw DossierError(.outputUnavailable, "cannot prepare the review folder", at: SourceLocation(file: reviews.path))
        }
        var export = ExportRequest(identifiers: r.identifiers.map { ($0.kind, $0.value) }, outputDirectory: reviews,
                                   requestID: r.id, asOf: now(), language: r.language, kind: r.kind)
        export.unpackedInto = folder
        export.redactions = redactions
        let result = try await Exporter(map: map, indexFolder: indexFolder, logger: logger).export(export)
        let records = result.counts.reduce(0) { $0 + $1.count }
        let datasets = result.counts.filter { $0.count > 0 }.count
        let stands = r.approvedFingerprint == result.fingerprint && r.approvedRedactions == redactions?.json
        var fields: [String: String?] = ["reviewed_at": now().utcTimestamp, "reviewed_fingerprint": result.fingerprint,
                                         "reviewed_redactions": redactions?.json]
        if !stands {
            fields.merge(["approved_by": nil, "approved_at": nil, "approved_fingerprint": nil, "approved_redactions": nil]) { $1 }
        }
        try await ledger.apply(RequestChange(to: r.status, note: "reviewed: \(records) records in \(datasets) datasets",
                                             fields: fields,
                                             audit: [("records", String(records)), ("datasets", String(datasets)),
                                                     ("fingerprint", result.fingerprint), ("on", today.description)]
                                                 + (redactions.map { [("withheld", $0.fields.joined(separator: ", ")), ("reason", $0.reason)] } ?? []),
                                             action: "reviewed"),
                               to: id, expecting: [r.status], at: now())
        return Review(request: try await request(id), folder: folder, fingerprint: result.fingerprint, counts: result.counts,
                      foundBy: result.foundBy, approvalStands: stands && r.isApproved)
    }

    /// Records that `by` approved the bundle of the last review for release.
    public func approve(_ id: String, by: String, today: Day) async throws(DossierError) {
        guard !by.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DossierError(.usage, "say who approves the release", missing: .reason)
        }
        let r = try await request(id)
        try checkNotClosed(r)
        guard let fingerprint = r.reviewedFingerprint else {
            throw DossierError(.refused, "request \(id) has not been reviewed: look at its bundle first", next: .review(request: id))
        }
        if r.approvedFingerprint == fingerprint && r.approvedRedactions == r.reviewedRedactions {
            throw DossierError(.refused, "request \(id) is already approved (by \(r.approvedBy ?? "?"))")
        }
        let withheld = ReviewRedactions(json: r.reviewedRedactions)
        try await ledger.apply(RequestChange(to: r.status, note: "approved for release by \(by)",
                                             fields: ["approved_by": by, "approved_at": now().utcTimestamp, "approved_fingerprint": fingerprint,
                                                      "approved_redactions": r.reviewedRedactions],
                                             audit: [("by", by), ("fingerprint", fingerprint), ("on", today.description)]
                                                 + (withheld.map { [("withheld", $0.fields.joined(separator: ", "))] } ?? []),
                                             action: "approved"),
                               to: id, expecting: [r.status], at: now())
    }

    /// Refuses a copy of a request that review has not cleared, when the map requires review.
    func checkApproved(_ r: RequestRecord) throws(DossierError) {
        guard requiresReview else { return }
        guard r.isApproved else {
            throw DossierError(.refused, "request \(r.id) has not been approved for release: the data map requires a review, then an approval",
                               next: r.reviewedAt == nil ? .review(request: r.id) : .approve(request: r.id))
        }
    }

    /// Refuses a copy whose data is not the data approved.
    func checkApprovedData(_ r: RequestRecord, fingerprint: String) throws(DossierError) {
        guard requiresReview, let approved = r.approvedFingerprint, approved != fingerprint else { return }
        throw DossierError(.refused, "the data of request \(r.id) changed since it was reviewed and approved: review it again and approve it",
                          next: .review(request: r.id))
    }
}
