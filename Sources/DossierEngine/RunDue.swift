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
        let open = try await ledger.requests(statuses: [.verified, .extended])
            .filter { $0.isVerified && $0.deliveries.isEmpty }
            .sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        return limit.map { Array(open.prefix($0)) } ?? open
    }

    public func runDue(limit: Int?, jobs: Int, packing: Packing, stop: @escaping @Sendable () -> Bool,
                       progress: @escaping @Sendable (DueOutcome) -> Void) async throws(DossierError) -> [DueOutcome] {
        let map = try requireMap("run-due")
        let work = try await due(limit: limit)
        guard !work.isEmpty else { return [] }
        // Indexes: the known folder, else one for this run only.
        let scratch = indexFolder == nil ? FileManager.default.temporaryDirectory.appendingPathComponent("dossier-index-\(UUID().uuidString)") : nil
        defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
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
                        outcome.delivery = try await service.fulfil(current, packing: packing, using: sources)
                        outcome.status = .delivered
                    }
                } catch {
                    outcome.status = error.kind == .busy ? .skipped : .failed
                    outcome.error = error.description
                    service.logger.info("run-due: request not fulfilled", metadata: ["request": "\(work[i].id)"])
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
    }

    /// Opens one request per row; a row whose reference is already in the ledger is left as it is,
    /// so importing the same manifest twice opens nothing twice. A bad row fails alone.
    public func importRequests(_ rows: [BatchRequest], kind defaultKind: RequestKind, received defaultReceived: Day,
                               channel defaultChannel: String, today: Day) async throws(DossierError) -> [Imported] {
        _ = try requireMap("importing requests")
        var result: [Imported] = []
        for row in rows {
            if let problem = row.problem {
                result.append(Imported(reference: row.id, status: .failed, request: nil, notes: [], error: problem))
                continue
            }
            if let existing = try await ledger.request(reference: row.id) {
                result.append(Imported(reference: row.id, status: .existing, request: existing, notes: [], error: nil))
                continue
            }
            do throws(DossierError) {
                let opened = try await open(kind: row.kind ?? defaultKind, identifiers: row.identifiers, received: row.received ?? defaultReceived,
                                            channel: row.channel ?? defaultChannel, language: row.language, reference: row.id, today: today)
                result.append(Imported(reference: row.id, status: .opened, request: opened.request, notes: opened.notes, error: nil))
            } catch {
                if error.kind == .sourceUnreadable || error.kind == .dataMap { throw error }
                result.append(Imported(reference: row.id, status: .failed, request: nil, notes: [], error: error.description))
            }
        }
        return result
    }
}
