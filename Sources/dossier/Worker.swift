import ArgumentParser
import DossierArchive
import DossierEngine
import DossierModel
import Foundation

/// `dossier worker`: takes due requests from the ledger and fulfils them, on as many machines as needed.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Fulfil due requests as they become due, claiming each from the ledger (many workers may share one PostgreSQL ledger).",
        discussion: """
        Each of --jobs slots claims the verified request without a copy that has the earliest \
        deadline and that no other process holds, produces copy 1 exactly as 'dossier request fulfil' \
        does, and takes the next. A claim is a lease (ledger.lease_seconds) renewed while the copy is \
        made: a worker that dies loses its requests to another worker when their leases expire, and \
        the database refuses a second copy 1. With nothing due the worker polls, backing off from \
        0.1 s to --idle-max.

        --heartbeat FILE: the worker touches FILE whenever it looks for work or finishes a copy; \
        'dossier worker --probe --heartbeat FILE --max-age 120' exits 0 when FILE was touched within \
        120 s and 75 otherwise (a Kubernetes liveness probe: a hung worker stops touching it).

        SIGTERM or SIGINT: no new claims; the copies under way are finished, then exit 0 (a second \
        signal exits 75 at once; its leases expire). --once drains what is due and exits (a Job).

        Prints one line per request (delivered, skipped, failed) and a summary at the end. Exit \
        codes: 0 stopped or drained; 65 with --once, some requests failed (each is named).

        Example (Kubernetes Deployment, ledger.url_env in the map):
          dossier worker --config /etc/dossier/map.yaml --jobs 2
        """
    )

    @OptionGroup var options: LedgerOptions

    @Option(name: .long, help: ArgumentHelp("Copies produced at once (default: the number of processor cores).", valueName: "n"))
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(name: .long, help: "Fulfil what is due now, then exit.")
    var once = false

    @Option(name: .customLong("idle-max"), help: ArgumentHelp("The longest wait between two looks for work when idle, in seconds.", valueName: "seconds"))
    var idleMax: Double = 5

    @Option(name: .long, help: "Archive format: zip, tar.gz or tar.zst.")
    var format: ArchiveFormat = .zip

    @Flag(name: .customLong("csv-bom"), help: "Start every CSV with a UTF-8 byte order mark.")
    var csvBOM = false

    @Option(name: .long, help: ArgumentHelp("Keep each archive this long, then 'dossier purge' deletes it (7d, 2w, 1m, P30D); default: the map's ledger.expires_after, else kept.", valueName: "period"))
    var expires: Period?

    @OptionGroup var index: IndexOptions

    @Option(name: .long, help: ArgumentHelp("A file to touch whenever the worker looks for work or finishes a copy.", valueName: "file"))
    var heartbeat: String?

    @Flag(name: .long, help: "Do no work: exit 0 when the --heartbeat file was touched within --max-age seconds, else 75.")
    var probe = false

    @Option(name: .customLong("max-age"), help: ArgumentHelp("With --probe: the oldest heartbeat that counts as alive, in seconds.", valueName: "seconds"))
    var maxAge: Double = 120

    func validate() throws {
        if probe, heartbeat == nil { throw ValidationError("--probe checks the file of --heartbeat: give it") }
        guard jobs >= 1 else { throw ValidationError("--jobs takes a number of at least 1") }
        guard idleMax >= 0.1, idleMax <= 3600 else { throw ValidationError("--idle-max takes a number of seconds from 0.1 to 3600") }
    }

    func run() async throws {
        if probe, let heartbeat {
            guard RequestService.isAlive(heartbeat: URL(fileURLWithPath: heartbeat), maxAge: maxAge) else {
                FileHandle.standardError.write(Data("dossier: the worker's heartbeat is missing or older than \(Int(maxAge)) s\n".utf8))
                throw ExitCode(75)
            }
            return
        }
        let service = try await options.service(indexFolder: index.folder, connections: jobs + 2)
        let stopping = StopOnSignal()
        defer { stopping.cancel() }
        var settings = RequestService.WorkerOptions(jobs: jobs, packing: Packing(format: format, csvBOM: csvBOM, expires: expires), once: once)
        settings.idleMaximum = .milliseconds(Int(idleMax * 1000))
        settings.heartbeat = heartbeat.map { URL(fileURLWithPath: $0) }
        print("worker: started (\(jobs) at a time\(once ? ", until nothing is due" : ""))")
        let events = try await service.work(settings, stop: { stopping.isSet }) { e in
            switch e.status {
            case .delivered: print("delivered: \(e.requestID) copy \(e.delivery?.copy ?? 1): \(e.delivery?.path ?? "")")
            case .skipped: print("skipped: \(e.requestID): \(e.error ?? "")")
            case .failed: print("failed: \(e.requestID): \(e.error ?? "")")
            }
        }
        let count = { (s: RequestService.WorkEvent.Status) in events.filter { $0.status == s }.count }
        print("worker: \(count(.delivered)) delivered, \(count(.skipped)) skipped, \(count(.failed)) failed\(stopping.isSet ? "; stopped by a signal" : "")")
        if once, count(.failed) > 0 {
            FileHandle.standardError.write(Data("dossier: \(count(.failed)) request(s) failed; each is named above\n".utf8))
            throw ExitCode(65)
        }
    }
}
