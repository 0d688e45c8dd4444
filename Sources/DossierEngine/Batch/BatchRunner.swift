import Crypto
import DossierArchive
import DossierCollectors
import DossierFormats
import DossierModel
import Foundation
import Logging

/// How a batch runs; what a request of the manifest does not say itself comes from here.
public struct BatchOptions: Sendable {
    public var outputDirectory: URL
    /// Exports that run at once, in one process sharing the opened sources.
    public var jobs: Int
    public var format: ArchiveFormat = .zip
    public var kind: RequestKind = .access
    public var language: String?
    /// The time every bundle speaks for; the moment each request starts when nil.
    public var asOf: Date?
    public var csvBOM = false
    /// The JSON Lines report; default `report.jsonl` in the output folder.
    public var report: URL?

    public init(outputDirectory: URL, jobs: Int) { self.outputDirectory = outputDirectory; self.jobs = jobs }
}

/// What became of one request of a batch.
public struct BatchOutcome: Sendable {
    public enum Status: String, Sendable {
        /// Exported by this run.
        case done
        /// Its export failed; `error` says why.
        case failed
        /// Exported by an earlier run of the same batch: its archive is complete and recorded.
        case skipped
        /// Not reached: the run was stopped first.
        case pending
        /// In the ledger but not verified: nothing leaves for it (a batch on a ledger only).
        case unverified
    }

    public var requestID: String
    /// The ledger's id of the request (a batch on a ledger only).
    public var ledgerID: String?
    /// The copy recorded in the ledger (a batch on a ledger only).
    public var copy: Int?
    public var status: Status
    public var archive: String?
    public var sha256: String?
    public var size: Int?
    /// Records per `source/dataset`, zero counts included.
    public var counts: [(dataset: String, count: Int)] = []
    public var error: String?
    public var seconds: Double?
    /// Copy 1 went out this many days after the request's deadline (a batch on a ledger only).
    public var lateDays: Int?
    /// What the request was (`BatchRequest.digest`, hashed): a changed request is done again.
    var digest: String = ""

    public var records: Int? { counts.isEmpty ? nil : counts.reduce(0) { $0 + $1.count } }

    /// The report's (and the journal's) line.
    var json: Value {
        var f = Fields([("request_id", .string(requestID)), ("status", .string(status.rawValue))])
        if let ledgerID { f.append("ledger_id", .string(ledgerID)) }
        if let copy { f.append("copy", .number(String(copy))) }
        if let lateDays { f.append("late_days", .number(String(lateDays))) }
        f.append("archive", archive.map { .string($0) } ?? .null)
        f.append("sha256", sha256.map { .string($0) } ?? .null)
        f.append("size", size.map { .number(String($0)) } ?? .null)
        f.append("records", records.map { .number(String($0)) } ?? .null)
        f.append("counts", .object(Fields(counts.map { ($0.dataset, Value.number(String($0.count))) })))
        f.append("error", error.map { .string($0) } ?? .null)
        if let seconds { f.append("seconds", .number(String(format: "%.3f", seconds))) }
        return .object(f)
    }

    public init(requestID: String, status: Status) { self.requestID = requestID; self.status = status }

    /// An outcome read back from the journal; nil for a line that is not one (a torn last line).
    init?(journal value: Value) {
        guard case .object(let f) = value, let id = f["request_id"]?.scalarText,
              let status = f["status"]?.scalarText.flatMap(Status.init(rawValue:)) else { return nil }
        requestID = id
        self.status = status
        archive = f["archive"]?.scalarText
        sha256 = f["sha256"]?.scalarText
        size = f["size"]?.scalarText.flatMap { Int($0) }
        if case .object(let c)? = f["counts"] { counts = c.compactMap { name, v in v.scalarText.flatMap(Int.init).map { (name, $0) } } }
        error = f["error"]?.scalarText
        seconds = f["seconds"]?.scalarText.flatMap(Double.init)
        digest = f["digest"]?.scalarText ?? ""
    }
}

/// Where a batch stands, after each request.
public struct BatchProgress: Sendable {
    public let total: Int
    public let done: Int
    public let failed: Int
    public let skipped: Int
    /// Seconds since the exports began.
    public let elapsed: Double
    public var finished: Int { done + failed + skipped }
}

/// The end of a run.
public struct BatchSummary: Sendable {
    /// One outcome per request of the manifest, in its order.
    public let outcomes: [BatchOutcome]
    public let seconds: Double
    /// The JSON Lines report, when one was written.
    public let report: URL?
    /// True when the run was stopped before every request was reached.
    public let interrupted: Bool
    public func count(_ status: BatchOutcome.Status) -> Int { outcomes.filter { $0.status == status }.count }
}

/// Runs a batch: one archive per request, `jobs` exports at a time in one process, all of them
/// sharing the sources opened once (and their lookup indexes, built once when missing).
///
/// A batch can be killed at any moment and started again with the same manifest and folder: every
/// finished request is appended to a journal (`<out>/.dossier-batch/journal.jsonl`) after its
/// archive has been renamed into place, so a restart skips the requests whose archives are complete
/// and recorded, and does again only the others. Archives are written under temporary names, so a
/// kill leaves no half archive; the report is written at the end, one line per request.
///
/// ```swift
/// let requests = try BatchManifest.read(manifest, map: map)
/// let summary = try await BatchRunner(exporter: Exporter(map: map))
///     .run(requests, options: BatchOptions(outputDirectory: out, jobs: 2), stop: { false }, progress: { _, _ in })
/// print(summary.count(.done))
/// ```
public struct BatchRunner: Sendable {
    public let exporter: Exporter

    public init(exporter: Exporter) { self.exporter = exporter }

    public static let stateFolderName = ".dossier-batch"

    public func run(_ requests: [BatchRequest], options: BatchOptions, stop: @escaping @Sendable () -> Bool,
                    progress: @escaping @Sendable (BatchProgress, BatchOutcome?) -> Void) async throws(DossierError) -> BatchSummary {
        let out = options.outputDirectory
        let state = out.appendingPathComponent(Self.stateFolderName)
        do {
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw DossierError(.outputUnavailable, "cannot create the output folder", at: SourceLocation(file: out.path))
        }
        let lock = try FolderLock(state.appendingPathComponent("lock"))
        defer { lock.release() }
        Self.removeLeftovers(in: out)

        // What earlier runs finished.
        let journalURL = state.appendingPathComponent("journal.jsonl")
        let previous = Self.readJournal(journalURL)
        let runID = UUID().uuidString
        var outcomes: [String: BatchOutcome] = [:]
        var toRun: [(request: BatchRequest, digest: String)] = []
        for r in requests {
            let digest = Self.digest(of: r, options: options)
            if let earlier = previous[r.id], earlier.status == .done || earlier.status == .skipped, earlier.digest == digest,
               let archive = earlier.archive, Self.archiveIsIntact(archive, size: earlier.size, sha256: earlier.sha256) {
                var skipped = earlier
                skipped.status = .skipped
                outcomes[r.id] = skipped
            } else {
                toRun.append((r, digest))
            }
        }
        let journal = try Journal(journalURL, run: runID)
        defer { journal.close() }

        let started = DispatchTime.now().uptimeNanoseconds
        let elapsed: @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        let tally = Tally(total: requests.count, skipped: outcomes.count)
        progress(tally.progress(elapsed()), nil)

        if !toRun.isEmpty {
            let indexes: IndexPolicy = .build(exporter.indexFolder ?? state.appendingPathComponent("indexes"))
            let exporter = self.exporter
            let work = toRun
            let finished = try await OpenedSources.with(exporter.map, indexes: indexes, concurrency: options.jobs) { sources throws(DossierError) -> [BatchOutcome] in
                let collected = Locked<[BatchOutcome]>([])
                await forEachBounded(work.count, jobs: options.jobs, stop: stop) { i in
                    let (request, digest) = work[i]
                    var outcome = await Self.export(request, options: options, exporter: exporter, sources: sources)
                    outcome.digest = digest
                    journal.append(outcome)
                    collected.update { $0.append(outcome) }
                    progress(tally.add(outcome.status, elapsed()), outcome)
                }
                return collected.value
            }
            for o in finished { outcomes[o.requestID] = o }
        }

        let ordered = requests.map { outcomes[$0.id] ?? BatchOutcome(requestID: $0.id, status: .pending) }
        let interrupted = ordered.contains { $0.status == .pending }
        let report = options.report ?? out.appendingPathComponent("report.jsonl")
        try Self.writeReport(ordered, to: report)
        if !interrupted && exporter.indexFolder == nil {
            try? FileManager.default.removeItem(at: state.appendingPathComponent("indexes"))
        }
        return BatchSummary(outcomes: ordered, seconds: elapsed(), report: report, interrupted: interrupted)
    }

    /// One request: its export against the shared sources, or why it failed.
    static func export(_ r: BatchRequest, options: BatchOptions, exporter: Exporter, sources: OpenedSources) async -> BatchOutcome {
        var outcome = BatchOutcome(requestID: r.id, status: .failed)
        if let problem = r.problem {
            outcome.error = problem
            return outcome
        }
        let begun = DispatchTime.now().uptimeNanoseconds
        let asOf = options.asOf ?? Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        var request = ExportRequest(identifiers: r.identifiers, format: r.format ?? options.format, outputDirectory: options.outputDirectory,
                                    requestID: r.id, asOf: asOf, language: r.language ?? options.language, kind: r.kind ?? options.kind)
        request.csvBOM = options.csvBOM
        do {
            let result = try await exporter.export(request, using: sources)
            outcome.status = .done
            outcome.archive = result.archive?.path
            outcome.sha256 = result.archiveSHA256
            outcome.size = result.archiveSize
            outcome.counts = result.counts
        } catch {
            outcome.error = error.description
            exporter.logger.info("request failed", metadata: ["request": "\(r.id)"])
        }
        outcome.seconds = Double(DispatchTime.now().uptimeNanoseconds - begun) / 1e9
        return outcome
    }

    /// The request as it will run (the batch's defaults applied), hashed.
    static func digest(of r: BatchRequest, options: BatchOptions) -> String {
        let effective = [r.digest, (r.kind ?? options.kind).rawValue, (r.format ?? options.format).rawValue,
                         r.language ?? options.language ?? "", options.csvBOM ? "bom" : ""].joined(separator: "\u{1D}")
        return Hex.string(SHA256.hash(data: Data(effective.utf8)))
    }

    /// True when the archive exists with the size and SHA-256 that were recorded.
    static func archiveIsIntact(_ path: String, size: Int?, sha256: String?) -> Bool {
        let url = URL(fileURLWithPath: path)
        guard let size, let sha256, let described = try? BundleFile.digest(of: url) else {
            return false
        }
        return described.size == size && described.sha256 == sha256
    }

    /// What a killed run may have left in the output folder: staging folders and partial archives.
    static func removeLeftovers(in folder: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(".dossier-staging-") || (name.hasPrefix(".dossier-") && name.hasSuffix(".partial")) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// The latest outcome of each request in the journal; lines that do not parse (a line cut short
    /// by a crash) are ignored.
    static func readJournal(_ url: URL) -> [String: BatchOutcome] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [:] }
        var latest: [String: BatchOutcome] = [:]
        for line in data.split(separator: 0x0A) {
            guard let value = try? JSON.parse(line), let outcome = BatchOutcome(journal: value) else { continue }
            latest[outcome.requestID] = outcome
        }
        return latest
    }

    static func writeReport(_ outcomes: [BatchOutcome], to url: URL) throws(DossierError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        let token = Scratch.register(temporary)
        defer { Scratch.release(token) }
        let file = try OutputFile(url: temporary, durable: true)
        for o in outcomes { try file.write(o.json.jsonText() + "\n") }
        try file.close()
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw DossierError(.outputWrite, "cannot write the report", at: SourceLocation(file: url.path))
        }
    }
}

// MARK: Helpers of the runner

/// A value behind a lock.
final class Locked<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func update<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&stored) } }
}

/// Runs `body` for each of 0..<count, at most `jobs` at a time, each position once; takes no further
/// position once `stop` says so.
func forEachBounded(_ count: Int, jobs: Int, stop: @escaping @Sendable () -> Bool,
                    _ body: @escaping @Sendable (Int) async -> Void) async {
    let cursor = Cursor(count: count)
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<max(1, min(jobs, count)) {
            group.addTask {
                while !stop(), let i = cursor.next() { await body(i) }
            }
        }
    }
}

/// Hands out the positions 0..<count once each, to whichever export asks first.
final class Cursor: Sendable {
    private let position = Locked(0)
    let count: Int
    init(count: Int) { self.count = count }
    func next() -> Int? {
        position.update { p in
            guard p < count else { return nil }
            defer { p += 1 }
            return p
        }
    }
}

/// Counts outcomes as they arrive.
final class Tally: Sendable {
    private let counts = Locked((done: 0, failed: 0, skipped: 0))
    let total: Int
    init(total: Int, skipped: Int) { self.total = total; counts.update { $0.skipped = skipped } }

    func progress(_ elapsed: Double) -> BatchProgress {
        let c = counts.value
        return BatchProgress(total: total, done: c.done, failed: c.failed, skipped: c.skipped, elapsed: elapsed)
    }

    func add(_ status: BatchOutcome.Status, _ elapsed: Double) -> BatchProgress {
        let c = counts.update { c -> (done: Int, failed: Int, skipped: Int) in
            switch status {
            case .done: c.done += 1
            case .failed: c.failed += 1
            case .skipped: c.skipped += 1
            case .unverified: c.failed += 1
            case .pending: break
            }
            return c
        }
        return BatchProgress(total: total, done: c.done, failed: c.failed, skipped: c.skipped, elapsed: elapsed)
    }
}

/// The append-only journal of finished requests: one JSON line each, written in one `write(2)`
/// (`O_APPEND`), after the request's archive has been renamed into place.
final class Journal: Sendable {
    private let fd: Int32
    private let run: String
    private let lock = NSLock()

    init(_ url: URL, run: String) throws(DossierError) {
        fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DossierError(.outputUnavailable, "cannot create the batch journal", at: SourceLocation(file: url.path)) }
        self.run = run
    }

    func append(_ outcome: BatchOutcome) {
        guard case .object(var fields) = outcome.json else { return }
        fields.append("digest", .string(outcome.digest))
        fields.append("run", .string(run))
        let bytes = Array((Value.object(fields).jsonText() + "\n").utf8)
        lock.withLock { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
    }

    func close() {
        fsync(fd)
        _ = Glibc.close(fd)
    }
}

/// An exclusive lock on a folder for the life of a run (`flock`, released by the kernel when the
/// process dies, so a killed batch never blocks the next one).
final class FolderLock: Sendable {
    private let fd: Int32

    init(_ url: URL) throws(DossierError) {
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DossierError(.outputUnavailable, "cannot create the batch's lock file", at: SourceLocation(file: url.path)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            _ = Glibc.close(fd)
            throw DossierError(.busy, "another batch is writing into this output folder right now", at: SourceLocation(file: url.deletingLastPathComponent().deletingLastPathComponent().path))
        }
    }

    func release() { _ = Glibc.close(fd) }
}
