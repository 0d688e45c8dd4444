import DossierCollectors
import DossierLedger
import DossierModel
import Foundation

/// `worker`: a long-running process that takes due requests from the ledger one claim at a time and
/// produces copy 1 of each, as many processes on as many machines as the ledger's database serves.
///
/// Each of `jobs` slots claims the due request with the earliest deadline that no other process
/// holds (`Ledger.claimNext`), produces its copy under that claim exactly as `request fulfil` does
/// (the lease renewed meanwhile, the archive renamed into place in the transaction that records the
/// delivery) and claims the next. With nothing due it waits, polling with a backoff from
/// `WorkerOptions.idleMinimum` up to `idleMaximum`, and wakes at once when `stop` turns true.
///
/// Sources are opened when work is found and closed when the queue is empty again, so that a
/// database source's snapshot and a file's index are as fresh as the work cycle.
extension RequestService {
    public struct WorkerOptions: Sendable {
        public var jobs: Int
        public var packing: Packing
        /// Drain what is due, then return (a Kubernetes Job); otherwise wait for more.
        public var once: Bool
        public var idleMinimum: Duration = .milliseconds(100)
        public var idleMaximum: Duration = .seconds(5)
        /// A file touched whenever the worker looks for work or finishes a copy (a liveness probe's).
        public var heartbeat: URL?
        public init(jobs: Int, packing: Packing, once: Bool) { self.jobs = jobs; self.packing = packing; self.once = once }
    }

    public struct WorkEvent: Sendable {
        public enum Status: String, Sendable { case delivered, skipped, failed }
        public let requestID: String
        public let status: Status
        public let delivery: Delivery?
        public let error: String?
    }

    /// Runs until `stop()` (or, with `once`, until nothing is due); the copies under way when `stop()`
    /// turns true are finished first. Returns every event, in the order they happened.
    public func work(_ options: WorkerOptions, stop: @escaping @Sendable () -> Bool,
                     event: @escaping @Sendable (WorkEvent) -> Void) async throws(DossierError) -> [WorkEvent] {
        let map = try requireMap("a worker")
        let temporary = indexFolder == nil ? Scratch.temporaryURL("dossier-index") : nil
        let scratch = temporary?.url
        defer { if let temporary { Scratch.remove(temporary.url, temporary.token) } }
        let events = Locked<[WorkEvent]>([])
        // Requests this process failed on: not claimed again by it (another process may try).
        let failed = Locked<Set<String>>([])
        let record: @Sendable (WorkEvent) -> Void = { e in
            events.update { $0.append(e) }
            if e.status == .failed { failed.update { _ = $0.insert(e.requestID) } }
            event(e)
        }
        let beat: @Sendable () -> Void = {
            guard let file = options.heartbeat else { return }
            _ = FileManager.default.createFile(atPath: file.path, contents: Data("\(Date().utcTimestamp)\n".utf8))
        }
        var idle = options.idleMinimum
        while !stop() {
            beat()
            guard let first = try await ledger.claimNext(at: now(), excluding: failed.value, approvedOnly: requiresReview) else {
                if options.once { break }
                try? await Self.sleep(idle, unless: stop)
                idle = min(idle * 2, options.idleMaximum)
                continue
            }
            idle = options.idleMinimum
            let service = self
            try await OpenedSources.with(map, indexes: .build(indexFolder ?? scratch!), concurrency: options.jobs) { sources throws(DossierError) in
                await withTaskGroup(of: Void.self) { group in
                    for slot in 0..<max(1, options.jobs) {
                        group.addTask {
                            var next: Claim? = slot == 0 ? first : nil
                            while !stop() || next != nil {
                                if next == nil {
                                    do throws(DossierError) { next = try await service.ledger.claimNext(at: service.now(), excluding: failed.value, approvedOnly: service.requiresReview) } catch {
                                        service.logger.error("the worker cannot claim work", metadata: ["error": "\(error.message)"])
                                    }
                                }
                                guard let claim = next else { break }
                                next = nil
                                record(await service.produce(claim, packing: options.packing, using: sources))
                                beat()
                            }
                        }
                    }
                }
            }
        }
        return events.value
    }

    /// Copy 1 of the claimed request; the claim is released when nothing is produced.
    func produce(_ claim: Claim, packing: Packing, using sources: OpenedSources) async -> WorkEvent {
        do throws(DossierError) {
            let r = try await request(claim.requestID)
            if !r.deliveries.isEmpty {
                try? await ledger.release(claim)
                return WorkEvent(requestID: r.id, status: .skipped, delivery: nil, error: "request \(r.id) already has copy 1")
            }
            do throws(DossierError) { try checkDeliverable(r) } catch {
                try? await ledger.release(claim)
                throw error
            }
            let delivery = try await deliver(r, packing: packing, fee: 0, currency: quote(r).currency, using: sources, claimed: claim)
            return WorkEvent(requestID: r.id, status: .delivered, delivery: delivery, error: nil)
        } catch {
            logger.info("worker: request not fulfilled", metadata: ["request": "\(claim.requestID)"])
            return WorkEvent(requestID: claim.requestID, status: error.kind == .busy ? .skipped : .failed, delivery: nil, error: error.description)
        }
    }

    /// Whether the heartbeat file was touched within `maxAge` (a liveness probe of a worker).
    public static func isAlive(heartbeat: URL, maxAge: TimeInterval) -> Bool {
        guard let modified = (try? FileManager.default.attributesOfItem(atPath: heartbeat.path))?[.modificationDate] as? Date else { return false }
        return Date().timeIntervalSince(modified) <= maxAge
    }

    /// Sleeps `duration`, waking every 100 ms to see whether `stop()` turned true.
    static func sleep(_ duration: Duration, unless stop: @Sendable () -> Bool) async throws {
        var left = duration
        while left > .zero, !stop() {
            let step = min(left, .milliseconds(100))
            try await Task.sleep(for: step)
            left -= step
        }
    }
}
