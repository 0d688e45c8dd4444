import DossierArchive
import DossierLedger
import DossierModel
import Foundation

/// `dossier batch --ledger`: a manifest of requests run through the ledger. Each row is opened as a
/// request (once, by its `request_id`, as `request import` does), optionally recorded verified with
/// the officer's statement, and each verified request without a copy gets copy 1 exactly as
/// `run-due` and workers make it: the same claims, so a batch, cron and workers can mix, and the
/// same commit of archive and delivery row, so a batch killed at any moment and run again delivers
/// each copy once.
///
/// ```swift
/// let service = try await RequestService.open(map: map, ledger: "postgres://…")
/// let rows = try BatchManifest.read(manifest, map: map)
/// let summary = try await service.runBatch(rows, options: LedgerBatchOptions(jobs: 2, today: today),
///                                          stop: { false }, progress: { _, _ in })
/// ```
public struct LedgerBatchOptions: Sendable {
    public var jobs: Int
    public var kind: RequestKind = .access
    public var format: ArchiveFormat = .zip
    public var language: String?
    public var csvBOM = false
    /// How long each copy is kept before `purge` deletes it; nil: the map's `ledger.expires_after`.
    public var expires: Period?
    /// When and how the rows that do not say arrived.
    public var received: Day
    public var channel = "batch"
    /// Recorded for every request of the manifest that is not verified yet; nil leaves them as they are.
    public var verification: RequestService.Verification?
    public var today: Day
    /// The JSON Lines report, or none.
    public var report: URL?

    public init(jobs: Int, today: Day) { self.jobs = jobs; self.today = today; self.received = today }
}

extension RequestService {
    public func runBatch(_ rows: [BatchRequest], options: LedgerBatchOptions, stop: @escaping @Sendable () -> Bool,
                         progress: @escaping @Sendable (BatchProgress, BatchOutcome?) -> Void) async throws(DossierError) -> BatchSummary {
        let map = try requireMap("a batch")
        let started = DispatchTime.now().uptimeNanoseconds
        let elapsed: @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        let given = rows.map { row -> BatchRequest in
            var r = row
            if r.language == nil { r.language = options.language ?? map.controller.languages.first }
            return r
        }
        let imported = try await importRequests(given, kind: options.kind, received: options.received, channel: options.channel,
                                                verification: options.verification, today: options.today)

        // What each row needs: nothing (done earlier, failed, not deliverable), or copy 1.
        var outcomes: [String: BatchOutcome] = [:]
        var work: [RequestRecord] = []
        var formats: [String: ArchiveFormat] = [:]
        for (row, i) in zip(given, imported) {
            var o = BatchOutcome(requestID: row.id, status: .failed)
            o.ledgerID = i.request?.id
            guard let r = i.request else {
                o.error = i.error
                outcomes[row.id] = o
                continue
            }
            if let first = r.deliveries.first {
                o.status = .skipped
                o.record(first)
                outcomes[row.id] = o
                continue
            }
            // What `fulfil` would refuse: refused or withdrawn, not verified, not approved.
            do throws(DossierError) { try checkDeliverable(r) } catch {
                if r.status.isOpen && !r.isVerified { o.status = .unverified }
                o.error = error.message
                outcomes[row.id] = o
                continue
            }
            work.append(r)
            formats[r.id] = row.format ?? options.format
        }
        // The ledger's id → the manifest's request id.
        let referenceOf = Dictionary(imported.compactMap { i in i.request.map { ($0.id, i.reference) } }, uniquingKeysWith: { a, _ in a })
        let tally = Tally(total: given.count, skipped: 0)
        for o in outcomes.values { _ = tally.add(o.status, 0) }
        progress(tally.progress(elapsed()), nil)

        let csvBOM = options.csvBOM, expires = options.expires
        let formatOf = formats
        let due = try await fulfilEach(work, jobs: options.jobs,
                                       packing: { r in Packing(format: formatOf[r.id] ?? .zip, csvBOM: csvBOM, expires: expires) },
                                       stop: stop) { d in
            let o = Self.outcome(of: d, reference: referenceOf[d.request.id] ?? d.request.id)
            progress(tally.add(o.status, elapsed()), o)
        }
        for d in due { outcomes[referenceOf[d.request.id] ?? d.request.id] = Self.outcome(of: d, reference: referenceOf[d.request.id] ?? d.request.id) }

        let ordered = given.map { outcomes[$0.id] ?? BatchOutcome(requestID: $0.id, status: .pending) }
        if let report = options.report { try BatchRunner.writeReport(ordered, to: report) }
        return BatchSummary(outcomes: ordered, seconds: elapsed(), report: options.report,
                            interrupted: ordered.contains { $0.status == .pending })
    }

    static func outcome(of d: DueOutcome, reference: String) -> BatchOutcome {
        var o = BatchOutcome(requestID: reference, status: .failed)
        o.ledgerID = d.request.id
        switch d.status {
        case .delivered: o.status = .done
        case .skipped: o.status = .skipped
        case .failed: o.status = .failed
        case .pending: o.status = .pending
        }
        if let delivery = d.delivery { o.record(delivery) }
        o.error = d.status == .delivered ? nil : d.error
        return o
    }
}

extension BatchOutcome {
    /// The copy the ledger recorded for the request: its number, archive, SHA-256 and size.
    mutating func record(_ delivery: Delivery) {
        copy = delivery.copy
        archive = delivery.path
        sha256 = delivery.sha256
        size = delivery.size
        lateDays = delivery.late?.days
    }
}
