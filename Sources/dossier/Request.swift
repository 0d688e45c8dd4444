import ArgumentParser
import DossierArchive
import DossierEngine
import DossierLedger
import DossierModel
import Foundation

/// `dossier request …`: the ledger of requests.
struct Request: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Keep the ledger of requests: open, verify, extend, review, fulfil, copy, transmit, refuse, withdraw, show, list.",
        discussion: """
        A request is opened when it arrives, verified before any data leaves, fulfilled with a free \
        first copy, and may receive further copies at the data map's tariff. Deadlines follow \
        Art. 12(3): one month, moved to the next working day, extendable by two months within the first.

        Example:
          id=$(dossier request open --config map.yaml --kind access --email anna@example.pl | tail -n 1)
          dossier request verify "$id" --config map.yaml --method "reply from the registered address" --by "J. Kowalski"
          dossier request fulfil "$id" --config map.yaml
        """,
        subcommands: [RequestOpen.self, RequestImport.self, RequestVerify.self, RequestExtend.self, RequestReview.self, RequestApprove.self,
                      RequestFulfil.self, RequestCopy.self, RequestTransmit.self,
                      RequestRefuse.self, RequestWithdraw.self, RequestShow.self, RequestList.self]
    )
}

struct RequestOpen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Record a new request; prints its deadline, any flag, and its id as the last line.")

    @OptionGroup var options: LedgerOptions
    @OptionGroup var person: IdentifierOptions

    @Option(name: .long, help: "access (Art. 15) or portability (Art. 20).")
    var kind: RequestKind

    @Option(name: .long, help: ArgumentHelp("The day the request arrived (YYYY-MM-DD); default today.", valueName: "date"))
    var received: String?

    @Option(name: .long, help: ArgumentHelp("How it arrived (email, letter, form, …).", valueName: "text"))
    var channel: String = "email"

    @Option(name: .long, help: ArgumentHelp("The language to answer in (one of the map's languages).", valueName: "code"))
    var language: String?

    func run() async throws {
        let today = try options.day()
        let receivedDay = try options.received(received, today: today)
        let service = try await options.service()
        let opened = try await service.open(kind: kind, identifiers: try person.identifiers(), received: receivedDay,
                                      channel: channel, language: language, today: today)
        let r = opened.request
        print("opened: \(r.kind.rawValue) request received \(r.received), answer due by \(r.deadline)")
        for note in opened.notes { print("flag: \(note)") }
        if let warning = deadlineWarning(r, today: today) { warn(warning) }
        print(r.id)
    }
}

struct RequestImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Open many requests at once from a manifest (the format of 'dossier batch').",
        discussion: """
        One request per row. The row's request_id is kept as the request's reference: a row whose \
        reference is already in the ledger is left alone, so importing the same file twice opens \
        nothing twice. Columns received (YYYY-MM-DD) and channel may say when and how each request \
        arrived; --received and --channel give the defaults. A bad row fails alone. With --method and \
        --by (how the identities were checked, and who checked them, e.g. for a list of one's own \
        customers), every request of the manifest that is not verified yet is recorded verified, as \
        'dossier request verify' records one.

        Prints one line per row (opened, existing or failed, with the ledger's id) and a summary. \
        Exit codes: 0 every row is in the ledger; 65 some rows failed.
        """)

    @Argument(help: ArgumentHelp("The manifest: CSV with a header, or JSON Lines.", valueName: "file")) var file: String
    @OptionGroup var options: LedgerOptions

    @Option(name: .long, help: "The kind of the rows that do not say: access (Art. 15) or portability (Art. 20).")
    var kind: RequestKind = .access

    @Option(name: .long, help: ArgumentHelp("The day the rows that do not say arrived (YYYY-MM-DD); default today.", valueName: "date"))
    var received: String?

    @Option(name: .long, help: ArgumentHelp("How the rows that do not say arrived.", valueName: "text"))
    var channel: String = "import"

    @Option(name: .long, help: ArgumentHelp("How the identities of the manifest's requests were checked; with --by, recorded for each request not yet verified.", valueName: "text"))
    var method: String?

    @Option(name: .long, help: ArgumentHelp("Who checked them (with --method).", valueName: "name"))
    var by: String?

    func validate() throws {
        if (method == nil) != (by == nil) { throw ValidationError("--method and --by go together: how the identities were checked, and who checked them") }
    }

    func run() async throws {
        let today = try options.day()
        let receivedDay = try options.received(received, today: today)
        let service = try await options.service()
        guard let map = service.map else { throw DossierError(.usage, "importing requests needs the data map", missing: .dataMap) }
        let rows = try BatchManifest.read(URL(fileURLWithPath: file), map: map)
        let verification = method.flatMap { m in by.map { RequestService.Verification(method: m, by: $0) } }
        let imported = try await service.importRequests(rows, kind: kind, received: receivedDay, channel: channel,
                                                        verification: verification, today: today)
        for i in imported {
            switch i.status {
            case .opened:
                print("opened: \(i.reference) as \(i.request!.id), \(i.request!.kind.rawValue), answer due by \(i.request!.deadline)")
                for note in i.notes { print("flag: \(i.request!.id): \(note)") }
                if i.verifiedNow { print("verified: \(i.request!.id)") }
            case .existing:
                if i.verifiedNow { print("existing: \(i.reference) is \(i.request!.id); verified now") } else {
                    print("existing: \(i.reference) is \(i.request!.id) (\(i.request!.status.rawValue)); left as it is")
                }
            case .failed: print("failed: \(i.reference): \(i.error ?? "")")
            }
        }
        let count = { (s: RequestService.Imported.Status) in imported.filter { $0.status == s }.count }
        let overdue = imported.filter { i in
            if i.status == .opened, case .overdue? = i.request?.timeliness(today: today) { return true }
            return false
        }.count
        if overdue > 0 {
            warn("\(overdue) of the requests opened are overdue already; list them: dossier request list --overdue\(options.pastable)")
        }
        print("import: \(imported.count) rows: \(count(.opened)) opened, \(count(.existing)) already in the ledger, \(count(.failed)) failed")
        if count(.failed) > 0 {
            FileHandle.standardError.write(Data("dossier: \(count(.failed)) of \(imported.count) rows failed; each is named above\n".utf8))
            throw ExitCode(65)
        }
    }
}

struct RequestVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Record how the requester's identity was checked (Art. 12(6)); no data leaves before this.")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Option(name: .long, help: ArgumentHelp("What was checked, e.g. \"reply from the registered e-mail\".", valueName: "text"))
    var method: String
    @Option(name: .long, help: ArgumentHelp("Who checked it.", valueName: "name"))
    var by: String

    func run() async throws {
        try await options.service().verify(id, method: method, by: by, today: try options.day())
        print("verified: \(id)")
    }
}

struct RequestExtend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend",
        abstract: "Extend the deadline by one or two months, with the reason to tell the person (only within the first month).")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Option(name: .long, help: "1 or 2 further months.") var months: Int
    @Option(name: .long, help: ArgumentHelp("Why (complexity, number of requests).", valueName: "text")) var reason: String

    func run() async throws {
        let service = try await options.service()
        try await service.extend(id, months: months, reason: reason, today: try options.day())
        print("extended: \(id), answer due by \(try await service.request(id).deadline)")
    }
}

struct RequestFulfil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fulfil",
        abstract: "Produce the first copy (free) of a verified request; prints the archive's path as the last line.")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @OptionGroup var archive: ArchiveOptions
    @Option(name: .long, help: ArgumentHelp("Keep the archive this long, then 'dossier purge' deletes it (7d, 2w, 1m, P30D); default: the map's ledger.expires_after, else kept.", valueName: "period"))
    var expires: Period?

    func run() async throws {
        printDelivery(try await options.service().fulfil(id, packing: try Packing(archive, expires: expires), today: try options.day()), of: id, packing: archive)
    }
}

struct RequestCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Quote the fee of a further copy; with --accept-fee, produce it and print its path as the last line.")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Flag(name: .customLong("accept-fee"), help: "The person accepted the quoted fee: produce the copy.") var acceptFee = false
    @OptionGroup var archive: ArchiveOptions
    @Option(name: .long, help: ArgumentHelp("Keep the archive this long, then 'dossier purge' deletes it (7d, 2w, 1m, P30D); default: the map's ledger.expires_after, else kept.", valueName: "period"))
    var expires: Period?

    func run() async throws {
        let service = try await options.service()
        let (quote, delivery) = try await service.copy(id, packing: acceptFee ? try Packing(archive, expires: expires) : Packing(format: archive.format),
                                                 acceptFee: acceptFee, today: try options.day())
        let fee = RequestService.amount(quote.fee)
        guard let delivery else {
            print("fee: \(fee) \(quote.currency) for a further copy of \(id) (Art. 15(3)); nothing was produced.")
            print("When the person accepts it, run: dossier request copy \(Shell.quoted(id))\(options.pastable)\(archive.pastable) --accept-fee")
            return
        }
        printDelivery(delivery, of: id, packing: archive)
    }
}

struct RequestRefuse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refuse",
        abstract: "Refuse a request (manifestly unfounded or excessive, Art. 12(5)), with the reason to tell the person.")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Option(name: .long, help: ArgumentHelp("The reason (required).", valueName: "text")) var reason: String?

    func run() async throws {
        guard let reason else { throw DossierError(.usage, "a refusal needs a reason (--reason); the person must be told it") }
        try await options.service().refuse(id, reason: reason, today: try options.day())
        print("refused: \(id)")
    }
}

struct RequestWithdraw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "withdraw", abstract: "Record that the person withdrew the request.")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Option(name: .long, help: ArgumentHelp("What the person said, if anything.", valueName: "text")) var reason: String?

    func run() async throws {
        try await options.service().withdraw(id, reason: reason, today: try options.day())
        print("withdrawn: \(id)")
    }
}

extension Packing {
    init(_ options: ArchiveOptions, expires: Period? = nil) throws(DossierError) {
        self.init(format: options.format, passphrase: try options.passphrase(), csvBOM: options.csvBOM, expires: expires,
                  splitSize: try options.splitBytes())
    }
}

/// `--expires 7d`: how long a delivered archive is kept before `dossier purge` deletes it.
extension Period: ExpressibleByArgument {
    public init?(argument: String) { self.init(short: argument) }
}
