import ArgumentParser
import DossierArchive
import DossierEngine
import DossierLedger
import DossierModel
import Foundation

/// `dossier run-due`: the scheduled job (cron, a systemd timer, a Kubernetes CronJob).
struct RunDue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-due",
        abstract: "Fulfil every verified request that has no copy yet, earliest deadline first.",
        discussion: """
        Each request gets copy 1, free of charge, exactly as 'dossier request fulfil' makes it: the \
        same claim (a request another process is producing is skipped), the archive renamed into \
        place in the transaction that records the delivery. Prints one line per request and a \
        summary; with nothing due it says so and exits 0.

        Exit codes: 0 every due request was fulfilled (or is being fulfilled by another process); \
        65 some failed (each is named); 75 stopped by a signal (run it again).

        Example (cron, every hour):
          0 * * * *  dossier run-due --config /etc/dossier/map.yaml --limit 200
        """
    )

    @OptionGroup var options: LedgerOptions

    @Option(name: .long, help: ArgumentHelp("Fulfil at most this many requests in this run.", valueName: "n"))
    var limit: Int?

    @Option(name: .long, help: ArgumentHelp("Exports at once (default: the number of processor cores).", valueName: "n"))
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Archive format: zip, tar.gz or tar.zst.")
    var format: ArchiveFormat = .zip

    @Flag(name: .customLong("csv-bom"), help: "Start every CSV with a UTF-8 byte order mark.")
    var csvBOM = false

    @OptionGroup var index: IndexOptions

    @Option(name: .long, help: ArgumentHelp("Keep each archive this long, then 'dossier purge' deletes it (7d, 2w, 1m, P30D); default: the map's ledger.expires_after, else kept.", valueName: "period"))
    var expires: Period?

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs takes a number of at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit takes a number of at least 1") }
    }

    func run() async throws {
        let service = try await options.service(indexFolder: index.folder)
        let due = try await service.due(limit: limit)
        guard !due.isEmpty else {
            print("run-due: nothing is due")
            return
        }
        print("run-due: \(due.count) request(s) due, the earliest deadline \(due[0].deadline)")
        let stopping = StopOnSignal()
        defer { stopping.cancel() }
        let outcomes = try await service.runDue(limit: limit, jobs: jobs, packing: Packing(format: format, csvBOM: csvBOM, expires: expires),
                                                stop: { stopping.isSet }) { o in
            switch o.status {
            case .delivered:
                let late = o.delivery?.late.map { ", answered \($0.days) day(s) late" } ?? ""
                print("delivered: \(o.request.id) copy \(o.delivery?.copy ?? 1) (deadline \(o.request.deadline)\(late)): \(o.delivery?.path ?? "")")
            case .skipped: print("skipped: \(o.request.id): \(o.error ?? "")")
            case .failed: print("failed: \(o.request.id): \(o.error ?? "")")
            case .pending: break
            }
        }
        let count = { (s: RequestService.DueOutcome.Status) in outcomes.filter { $0.status == s }.count }
        print("run-due: \(count(.delivered)) delivered, \(count(.skipped)) skipped, \(count(.failed)) failed, \(count(.pending)) not reached")
        let late = outcomes.filter { $0.delivery?.late != nil }.count
        if late > 0 { warn("\(late) of the copies delivered went out after their deadline (recorded as late)") }
        if count(.pending) > 0 {
            FileHandle.standardError.write(Data("dossier: stopped before the end: \(count(.pending)) due request(s) not reached; \(Shell.again())\n".utf8))
            throw ExitCode(75)
        }
        if count(.failed) > 0 {
            FileHandle.standardError.write(Data("dossier: \(count(.failed)) of \(outcomes.count) due requests failed; each is named above\n".utf8))
            throw ExitCode(65)
        }
    }
}
