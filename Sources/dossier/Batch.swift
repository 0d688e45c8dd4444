import ArgumentParser
import DossierArchive
import DossierEngine
import DossierModel
import Foundation

/// `dossier batch`: one archive per request of a manifest, many at once.
struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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

        Exit codes: 0 every request is done; 65 some requests failed (each is named, and in the \
        report); 75 stopped by a signal before the end (run the same command again).

        Example:
          dossier batch --config Samples/dossier.yaml --requests requests.csv --out archives/
        """
    )

    @Option(name: .long, help: ArgumentHelp("The data map (YAML).", valueName: "file"))
    var config: String

    @Option(name: .long, help: ArgumentHelp("The manifest of requests: CSV with a header, or JSON Lines.", valueName: "file"))
    var requests: String

    @Option(name: .long, help: ArgumentHelp("The folder of the archives, the report and the batch's journal (created when missing).", valueName: "dir"))
    var out: String

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

    @Option(name: .long, help: ArgumentHelp("The JSON Lines report (default: report.jsonl in --out).", valueName: "file"))
    var report: String?

    @OptionGroup var index: IndexOptions

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs takes a number of at least 1") }
    }

    func run() async throws {
        let map = try Exporter.loadMap(file: config)
        if let language, !map.controller.languages.contains(language) {
            throw DossierError(.usage, "the data map offers the languages \(map.controller.languages.joined(separator: ", ")), not '\(language)'")
        }
        let list = try BatchManifest.read(URL(fileURLWithPath: requests), map: map)
        var options = BatchOptions(outputDirectory: URL(fileURLWithPath: out), jobs: jobs)
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

        let rate = summary.seconds > 0 ? Double(summary.count(.done)) / summary.seconds : 0
        print(String(format: "batch: %d requests: %d done, %d failed, %d skipped (already done), %d not reached, in %.1f s (%.1f requests/s)",
                     summary.outcomes.count, summary.count(.done), summary.count(.failed), summary.count(.skipped),
                     summary.count(.pending), summary.seconds, rate))
        for o in summary.outcomes where o.status == .failed {
            print("failed: \(o.requestID): \(o.error ?? "unknown error")")
        }
        print("report: \(summary.report.path)")
        if summary.interrupted {
            FileHandle.standardError.write(Data("dossier: stopped before the end: \(summary.count(.pending)) requests not reached; run the same command again to finish them\n".utf8))
            throw ExitCode(75)
        }
        if summary.count(.failed) > 0 {
            FileHandle.standardError.write(Data("dossier: \(summary.count(.failed)) of \(summary.outcomes.count) requests failed; each is named above and in \(summary.report.lastPathComponent)\n".utf8))
            throw ExitCode(65)
        }
    }
}

/// SIGINT or SIGTERM: take no further request and let those under way finish; a second signal
/// stops at once. Handled on a dispatch queue of its own: the exports keep the cooperative threads
/// busy, and the global queues share their limit, so an async signal sequence
/// (swift-service-lifecycle's UnixSignalsSequence) was only served seconds later, after the batch.
final class StopOnSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        let queue = DispatchQueue(label: "dossier.signals")
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.received() }
            source.resume()
            return source
        }
    }

    var isSet: Bool { lock.withLock { stopped } }

    private func received() {
        if isSet {
            FileHandle.standardError.write(Data("\ndossier: stopped at once; nothing half written is left under a final name. Run the same command again to finish.\n".utf8))
            Foundation.exit(75)
        }
        lock.withLock { stopped = true }
        FileHandle.standardError.write(Data("\ndossier: stopping: finishing the requests under way (a second signal stops at once)\n".utf8))
    }

    func cancel() { sources.forEach { $0.cancel() } }
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
