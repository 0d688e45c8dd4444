import ArgumentParser
import DossierArchive
import DossierEngine
import DossierModel
import Foundation

/// `dossier batch`: one archive per request of a manifest, many at once.
struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Export every request of a manifest (CSV or JSON Lines) into an archive of its own.",
        discussion: """
        The manifest names one request a row: request_id, the person's identifiers (email, phone, or \
        any identifier kind of the map, several separated by '|' in CSV), and optionally kind, \
        language and format. Archives are dossier-<request_id>.<format> in --out.

        Exports run --jobs at a time in this one process, sharing the opened sources and their lookup \
        indexes (built once when missing). A request that fails (an identifier that is no e-mail, a \
        record that does not parse) fails alone; the others complete. A batch that is stopped or \
        killed is finished by running the same command again: requests whose archives are complete \
        and recorded are skipped, each request is reported once.

        On a ledger (--ledger, or --in-ledger for the map's ledger.path or ledger.url_env), each row \
        is opened as a request, once, by its request_id (as 'dossier request import' does); with \
        --method and --by every request of the manifest not yet verified is recorded verified; and \
        each verified request without a copy gets copy 1 in the ledger's archives folder, with the \
        same claims as run-due and workers (so they can run at the same time) and each copy counted \
        once whatever stops the batch. A request that is not verified is reported and left alone.

        Exit codes: 0 every request is done; 65 some requests failed or (on a ledger) are not \
        verified (each is named, and in the report); 75 stopped by a signal before the end (run the \
        same command again).

        Examples:
          dossier batch --config Samples/dossier.yaml --requests requests.csv --out archives/
          dossier batch --config map.yaml --requests customers.csv --in-ledger \\
              --method "customer list of the closed product" --by "A. Nowak (DPO)"
        """
    )

    @Option(name: .long, help: ArgumentHelp("The data map (YAML).", valueName: "file"))
    var config: String

    @Option(name: .long, help: ArgumentHelp("The manifest of requests: CSV with a header, or JSON Lines.", valueName: "file"))
    var requests: String

    @Option(name: .long, help: ArgumentHelp("The folder of the archives, the report and the batch's journal (created when missing); not with a ledger, whose archives folder is used.", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("in-ledger"), help: "Run the requests through the ledger the data map names (ledger.path or ledger.url_env).")
    var inLedger = false

    @Option(name: .long, help: ArgumentHelp("Run the requests through this ledger: a SQLite file, or postgres://… (prefer --in-ledger with ledger.url_env: a URL on the command line shows in the process list).", valueName: "path-or-url"))
    var ledger: String?

    @Option(name: .long, help: ArgumentHelp("On a ledger: how the identities of the manifest's requests were checked; with --by, recorded for each request not yet verified.", valueName: "text"))
    var method: String?

    @Option(name: .long, help: ArgumentHelp("On a ledger: who checked them (with --method).", valueName: "name"))
    var by: String?

    @Option(name: .long, help: ArgumentHelp("On a ledger: the day the rows that do not say arrived (YYYY-MM-DD); default today.", valueName: "date"))
    var received: String?

    @Option(name: .long, help: ArgumentHelp("On a ledger: how the rows that do not say arrived.", valueName: "text"))
    var channel: String = "batch"

    @Option(name: .long, help: ArgumentHelp("On a ledger: take this date (YYYY-MM-DD) as today; default: today in UTC.", valueName: "date"))
    var today: String?

    @Option(name: .long, help: ArgumentHelp("Exports at once (default: the number of processor cores).", valueName: "n"))
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "The kind of the requests that do not say: access (Art. 15) or portability (Art. 20).")
    var kind: RequestKind = .access

    @Option(name: .long, help: "The archive format of the requests that do not say: zip, tar.gz or tar.zst.")
    var format: ArchiveFormat = .zip

    @Option(name: .long, help: ArgumentHelp("The language of the requests that do not say (default: the data map's first).", valueName: "code"))
    var language: String?

    @Option(name: .customLong("as-of"), help: ArgumentHelp("The time every bundle speaks for (UTC, 2026-01-31T09:00:00Z); default: when each request starts.", valueName: "time"))
    var asOf: String?

    @Flag(name: .customLong("csv-bom"), help: "Start every CSV with a UTF-8 byte order mark.")
    var csvBOM = false

    @Option(name: .long, help: ArgumentHelp("On a ledger: keep each archive this long, then 'dossier purge' deletes it (7d, 2w, 1m, P30D); default: the map's ledger.expires_after, else kept.", valueName: "period"))
    var expires: Period?

    @Option(name: .long, help: ArgumentHelp("The JSON Lines report (default: report.jsonl in --out).", valueName: "file"))
    var report: String?

    @OptionGroup var index: IndexOptions

    var onLedger: Bool { inLedger || ledger != nil }

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs takes a number of at least 1") }
        if onLedger {
            if out != nil { throw ValidationError("on a ledger the archives go to its folder (ledger.archives): leave out --out (--report names the report)") }
            if asOf != nil { throw ValidationError("a copy recorded in the ledger speaks for the time it is made: leave out --as-of") }
            if (method == nil) != (by == nil) { throw ValidationError("--method and --by go together: how the identities were checked, and who checked them") }
        } else {
            if out == nil { throw ValidationError("name the folder of the archives with --out (or run the requests through a ledger with --in-ledger or --ledger)") }
            for (given, name) in [(method, "--method"), (by, "--by"), (received, "--received"), (today, "--today")] where given != nil {
                throw ValidationError("\(name) is for a batch on a ledger (--in-ledger or --ledger)")
            }
            if expires != nil { throw ValidationError("--expires is for a batch on a ledger (--in-ledger or --ledger), whose purge deletes what expires") }
        }
    }

    func run() async throws {
        let map = try MapPrefetch.map(file: config)
        if let language, !map.controller.languages.contains(language) {
            throw DossierError(.usage, "the data map offers the languages \(map.controller.languages.joined(separator: ", ")), not '\(language)'")
        }
        let list = try BatchManifest.read(URL(fileURLWithPath: requests), map: map)
        if onLedger {
            try await runOnLedger(list, map: map)
            return
        }
        var options = BatchOptions(outputDirectory: URL(fileURLWithPath: out!), jobs: jobs)
        options.kind = kind
        options.format = format
        options.language = language
        options.csvBOM = csvBOM
        options.report = report.map { URL(fileURLWithPath: $0) }
        options.asOf = try parseAsOf(asOf)

        let stopping = StopOnSignal()
        defer { stopping.cancel() }

        let display = ProgressDisplay(terminal: isatty(STDERR_FILENO) != 0)
        let summary = try await BatchRunner(exporter: Exporter(map: map, indexFolder: index.folder))
            .run(list, options: options, stop: { stopping.isSet }, progress: { p, _ in display.show(p) })
        display.finish()

        try finish(summary)
    }

    /// The manifest through the ledger: opened, verified when told, copy 1 of each verified one.
    func runOnLedger(_ list: [BatchRequest], map: DataMap) async throws {
        var shared = LedgerOptions()
        shared.config = config
        shared.ledger = ledger
        shared.today = today
        let day = try shared.day()
        let service = try await shared.service(indexFolder: index.folder)
        var options = LedgerBatchOptions(jobs: jobs, today: day)
        options.kind = kind
        options.format = format
        options.language = language
        options.csvBOM = csvBOM
        options.received = try shared.received(received, today: day)
        options.channel = channel
        options.expires = expires
        if let method, let by { options.verification = RequestService.Verification(method: method, by: by) }
        options.report = report.map { URL(fileURLWithPath: $0) }

        let stopping = StopOnSignal()
        defer { stopping.cancel() }
        let display = ProgressDisplay(terminal: isatty(STDERR_FILENO) != 0)
        let summary = try await service.runBatch(list, options: options, stop: { stopping.isSet }, progress: { p, _ in display.show(p) })
        display.finish()
        try finish(summary)
    }

    /// The summary on stdout, one line per request that is not done, and the exit code.
    func finish(_ summary: BatchSummary) throws {
        let rate = summary.seconds > 0 ? Double(summary.count(.done)) / summary.seconds : 0
        let unverified = summary.count(.unverified)
        print(String(format: "batch: %d requests: %d done, %d failed, %@%d skipped (already done), %d not reached, in %.1f s (%.1f requests/s)",
                     summary.outcomes.count, summary.count(.done), summary.count(.failed),
                     unverified > 0 ? "\(unverified) not verified, " : "", summary.count(.skipped),
                     summary.count(.pending), summary.seconds, rate))
        for o in summary.outcomes where o.status == .failed || o.status == .unverified {
            let name = o.ledgerID.map { "\(o.requestID) (\($0))" } ?? o.requestID
            print("\(o.status == .failed ? "failed" : "not verified"): \(name): \(o.error ?? "unknown error")")
        }
        if let report = summary.report { print("report: \(report.path)") }
        let late = summary.outcomes.filter { $0.lateDays != nil }.count
        if late > 0 { warn("\(late) of the copies delivered went out after their deadline (recorded as late)") }
        if summary.interrupted {
            FileHandle.standardError.write(Data("dossier: stopped before the end: \(summary.count(.pending)) requests not reached; to finish them, \(Shell.again())\n".utf8))
            throw ExitCode(75)
        }
        let failed = summary.count(.failed)
        if failed > 0 {
            let whereNamed = summary.report.map { "above and in \($0.lastPathComponent)" } ?? "above"
            FileHandle.standardError.write(Data("dossier: \(failed) of \(summary.outcomes.count) requests failed; each is named \(whereNamed)\n".utf8))
        }
        if unverified > 0 {
            FileHandle.standardError.write(Data("dossier: \(unverified) request(s) are not verified, so nothing left for them: verify each (dossier request verify), or say how the manifest's identities were checked and by whom: \(Shell.again(adding: " --method 'HOW THE IDENTITIES WERE CHECKED' --by NAME"))\n".utf8))
        }
        if failed + unverified > 0 { throw ExitCode(65) }
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds otherwise.
final class ProgressDisplay: @unchecked Sendable {
    private let terminal: Bool
    private let lock = NSLock()
    private var lastShown = -1.0
    private var drewBar = false

    init(terminal: Bool) { self.terminal = terminal }

    func show(_ p: BatchProgress) {
        lock.withLock {
            let interval = terminal ? 0.1 : 5.0
            let last = p.finished == p.total
            guard p.finished > 0, last || p.elapsed - lastShown >= interval else { return }
            lastShown = p.elapsed
            let rate = p.elapsed > 0 ? Double(p.done + p.failed) / p.elapsed : 0
            let remaining = p.total - p.finished
            let eta = rate > 0 ? Self.duration(Double(remaining) / rate) : "?"
            if terminal {
                let width = 30
                let filled = p.total > 0 ? width * p.finished / p.total : width
                let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                let line = String(format: "\r[%@] %d/%d  %.1f/s  ETA %@  failed %d ", bar, p.finished, p.total, rate, eta, p.failed)
                FileHandle.standardError.write(Data(line.utf8))
                drewBar = true
            } else {
                let line = String(format: "progress: %d/%d (%d done, %d failed, %d skipped), %.1f requests/s, ETA %@\n",
                                  p.finished, p.total, p.done, p.failed, p.skipped, rate, eta)
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }

    func finish() {
        lock.withLock { if drewBar { FileHandle.standardError.write(Data("\n".utf8)) } }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
