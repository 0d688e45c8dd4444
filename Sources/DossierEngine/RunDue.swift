import DossierCollectors
import DossierLedger
import DossierModel
import Foundation

/// `run-due`: the scheduled job. Fulfils every verified request that has no copy yet, earliest
/// deadline first, each as copy 1 exactly as `fulfil` makes it (the same claim, the same commit of
/// the archive with its delivery row), `jobs` at a time over sources opened once for the run.
extension RequestService {
    public struct DueOutcome: Sendable {
        public enum Status: String, Sendable {
            /// Copy 1 was produced and recorded.
            case delivered
            /// Another process is producing its copy right now, or produced it meanwhile.
            case skipped
            case failed
            /// Not reached: the run was stopped first.
            case pending
        }
        public let request: RequestRecord
        public var status: Status
        public var delivery: Delivery?
        public var error: String?
    }

    /// The requests `run-due` would fulfil now, in the order it takes them: verified, not refused
    /// or withdrawn, without a copy; by deadline, then by id.
    public func due(limit: Int?) async throws(DossierError) -> [RequestRecord] {
        // Only the due ones are kept while the open requests stream past.
        var open: [RequestRecord] = []
        try await ledger.forEachRequest(statuses: [.verified, .extended]) { r in
            if r.isVerified && r.deliveries.isEmpty && (!requiresReview || r.isApproved) { open.append(r) }
        }
        open.sort { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        return limit.map { Array(open.prefix($0)) } ?? open
    }

    public func runDue(limit: Int?, jobs: Int, packing: Packing, stop: @escaping @Sendable () -> Bool,
                       progress: @escaping @Sendable (DueOutcome) -> Void) async throws(DossierError) -> [DueOutcome] {
        _ = try requireMap("run-due")
        let work = try await due(limit: limit)
        return try await fulfilEach(work, jobs: jobs, packing: { _ in packing }, stop: stop, progress: progress)
    }

    /// Copy 1 of each request of `work` (in that order, `jobs` at a time, over sources opened once),
    /// each as `fulfil` makes it; a request that received its copy meanwhile, or that another process
    /// holds, is `skipped`. One outcome per request of `work`, in its order (`pending` when `stop`
    /// came first).
    func fulfilEach(_ work: [RequestRecord], jobs: Int, packing: @escaping @Sendable (RequestRecord) -> Packing,
                    stop: @escaping @Sendable () -> Bool,
                    progress: @escaping @Sendable (DueOutcome) -> Void) async throws(DossierError) -> [DueOutcome] {
        let map = try requireMap("producing copies")
        guard !work.isEmpty else { return [] }
        // Indexes: the known folder, else one for this run only.
        let temporary = indexFolder == nil ? Scratch.temporaryURL("dossier-index") : nil
        let scratch = temporary?.url
        defer { if let temporary { Scratch.remove(temporary.url, temporary.token) } }
        let service = self
        let finished = try await OpenedSources.with(map, indexes: .build(indexFolder ?? scratch!), concurrency: jobs) { sources throws(DossierError) -> [DueOutcome] in
            let collected = Locked<[DueOutcome]>([])
            await forEachBounded(work.count, jobs: jobs, stop: stop) { i in
                var outcome = DueOutcome(request: work[i], status: .failed)
                do throws(DossierError) {
                    // As it stands now: another process may have fulfilled, refused or withdrawn it.
                    let current = try await service.request(work[i].id)
                    if !current.deliveries.isEmpty || current.status == .fulfilled {
                        outcome.status = .skipped
                        outcome.error = "request \(current.id) received copy 1 from another process meanwhile"
                    } else {
                        outcome.delivery = try await service.fulfil(current, packing: packing(current), using: sources)
                        outcome.status = .delivered
                    }
                } catch {
                    // Busy: another process holds it now. Refused with a copy there now: another
                    // process delivered it between the look above and the claim.
                    var deliveredElsewhere = false
                    if error.kind == .refused, let now = try? await service.request(work[i].id) {
                        deliveredElsewhere = !now.deliveries.isEmpty
                    }
                    outcome.status = error.kind == .busy || deliveredElsewhere ? .skipped : .failed
                    outcome.error = error.description
                    service.logger.info("copy not produced", metadata: ["request": "\(work[i].id)"])
                }
                collected.update { $0.append(outcome) }
                progress(outcome)
            }
            return collected.value
        }
        var byID: [String: DueOutcome] = [:]
        for o in finished { byID[o.request.id] = o }
        return work.map { byID[$0.id] ?? DueOutcome(request: $0, status: .pending) }
    }
}

/// `request import`: many requests opened at once from a manifest of the batch format.
extension RequestService {
    public struct Imported: Sendable {
        public enum Status: String, Sendable {
            /// Opened now as `request`.
            case opened
            /// A request with this reference was opened before (as `request`); nothing was done.
            case existing
            case failed
        }
        /// The manifest's request id, kept as the ledger request's reference.
        public let reference: String
        public let status: Status
        public let request: RequestRecord?
        public let notes: [String]
        public let error: String?
        /// The identity check was recorded by this import (`verification` was given, and the request
        /// was not verified before).
        public var verifiedNow = false
    }

    /// How the identities of a whole manifest were checked, and by whom: the officer's statement,
    /// recorded for each of its requests as `request verify` records it for one.
    public struct Verification: Sendable {
        public var method: String
        public var by: String
        public init(method: String, by: String) { self.method = method; self.by = by }
    }

    /// Opens one request per row; a row whose reference is already in the ledger is left as it is,
    /// so importing the same manifest twice opens nothing twice. A bad row fails alone.
    /// With `verification`, each request of the manifest that is not verified yet (opened now, or
    /// by an earlier import that stopped before verifying) is recorded verified.
    public func importRequests(_ rows: [BatchRequest], kind defaultKind: RequestKind, received defaultReceived: Day,
                               channel defaultChannel: String, verification: Verification? = nil,
                               today: Day) async throws(DossierError) -> [Imported] {
        _ = try requireMap("importing requests")
        if let verification, verification.method.trimmingCharacters(in: .whitespaces).isEmpty || verification.by.trimmingCharacters(in: .whitespaces).isEmpty {
            throw DossierError(.usage, "say how the identities were checked and who checked them", missing: .verification)
        }
        var result: [Imported] = []
        for row in rows {
            var imported = try await importOne(row, kind: defaultKind, received: defaultReceived, channel: defaultChannel, today: today)
            if let verification, let r = imported.request, !r.isVerified, r.status.isOpen {
                try await verify(r.id, method: verification.method, by: verification.by, today: today)
                imported = Imported(reference: imported.reference, status: imported.status, request: try await request(r.id),
                                    notes: imported.notes, error: nil, verifiedNow: true)
            }
            result.append(imported)
        }
        return result
    }

    /// One row: opened, found already opened (by its reference), or failed alone.
    func importOne(_ row: BatchRequest, kind defaultKind: RequestKind, received defaultReceived: Day,
                   channel defaultChannel: String, today: Day) async throws(DossierError) -> Imported {
        if let problem = row.problem {
            return Imported(reference: row.id, status: .failed, request: nil, notes: [], error: problem)
        }
        if let existing = try await ledger.request(reference: row.id) {
            return Imported(reference: row.id, status: .existing, request: existing, notes: [], error: nil)
        }
        do throws(DossierError) {
            let opened = try await open(kind: row.kind ?? defaultKind, identifiers: row.identifiers, received: row.received ?? defaultReceived,
                                        channel: row.channel ?? defaultChannel, language: row.language, reference: row.id, today: today)
            return Imported(reference: row.id, status: .opened, request: opened.request, notes: opened.notes, error: nil)
        } catch {
            if error.kind == .sourceUnreadable || error.kind == .dataMap { throw error }
            // Another import of the same row (a batch or an import running at the same time) came first.
            if error.kind == .refused, let existing = try await ledger.request(reference: row.id) {
                return Imported(reference: row.id, status: .existing, request: existing, notes: [], error: nil)
            }
            return Imported(reference: row.id, status: .failed, request: nil, notes: [], error: error.description)
        }
    }
}
