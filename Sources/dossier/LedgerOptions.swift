import ArgumentParser
import DossierEngine
import DossierLedger
import DossierModel
import Foundation
import Synchronization

/// The options every ledger command shares: where the map and the ledger are, and what day it is.
struct LedgerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The data map (YAML); its ledger.path names the ledger.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The ledger: a SQLite file, or a PostgreSQL database as postgres://USER:PASSWORD@HOST/DATABASE (prefer ledger.url_env in the map: a URL on the command line shows in the process list); overrides the map's ledger.", valueName: "path-or-url"))
    var ledger: String?

    @Option(name: .long, help: ArgumentHelp("Take this date (YYYY-MM-DD) as today; default: today in UTC.", valueName: "date"))
    var today: String?

    /// ` --config FILE` (and ` --ledger PATH` for a ledger file, ` --today DATE` when given), as
    /// given, for a hint that works when pasted; a PostgreSQL URL is never repeated (it may hold a
    /// password: the map's ledger.url_env names it instead).
    var pastable: String { Self.pastable(config: config, ledger: ledger, today: today) }

    static func pastable(config: String?, ledger: String?, today: String?) -> String {
        var s = ""
        if let config { s += " --config \(Shell.quoted(config))" }
        if let ledger, !Shell.holdsPostgresURL(ledger) { s += " --ledger \(Shell.quoted(ledger))" }
        if let today { s += " --today \(Shell.quoted(today))" }
        return s
    }

    func day() throws(DossierError) -> Day {
        if let today {
            guard let d = Day(today) else { throw DossierError(.usage, "--today takes a date such as 2026-01-31") }
            return d
        }
        return Self.todayUTC()
    }

    /// `--received DATE`, or today.
    func received(_ text: String?, today: Day) throws(DossierError) -> Day {
        guard let text else { return today }
        guard let d = Day(text) else { throw DossierError(.usage, "--received takes a date such as 2026-01-31") }
        return d
    }

    static func todayUTC() -> Day {
        Day(utc: Date())
    }

    func service(indexFolder: URL? = nil, connections: Int = 4) async throws(DossierError) -> RequestService {
        let map = try config.map { f throws(DossierError) in try MapPrefetch.map(file: f) }
        // With --today, every time the ledger records (history, deliveries, audit) falls on that day,
        // at the current time of day, so that a scripted run keeps its dates consistent.
        let shift: TimeInterval
        if today != nil {
            shift = try day().start.timeIntervalSince(Day(utc: Date()).start)
        } else {
            shift = 0
        }
        let service = try await RequestService.open(map: map, ledger: ledger, indexFolder: indexFolder, connections: connections,
                                                    now: { Date().addingTimeInterval(shift) })
        OpenServices.shared.add(service)
        return service
    }
}

/// The services a command opened, closed by `Dossier.main` when the command ends, however it ends
/// (a PostgreSQL ledger's connections are closed, not dropped).
final class OpenServices: Sendable {
    static let shared = OpenServices()
    private let services = Mutex<[RequestService]>([])

    func add(_ service: RequestService) { services.withLock { $0.append(service) } }

    func closeAll() async {
        let all = services.withLock { list in defer { list.removeAll() }; return list }
        for s in all { await s.close() }
    }
}

/// The identifiers of a person, as `export` and `request open` take them.
struct IdentifierOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("An e-mail address of the person (repeatable).", valueName: "address"))
    var email: [String] = []

    @Option(name: .long, help: ArgumentHelp("A phone number of the person, in any format (repeatable).", valueName: "number"))
    var phone: [String] = []

    @Option(name: .long, help: ArgumentHelp("Any other identifier a system uses, as KIND=VALUE, e.g. crm_id=17 (repeatable).", valueName: "kind=value"))
    var id: [String] = []

    func identifiers() throws(DossierError) -> [(kind: IdentifierKind, text: String)] {
        var result: [(kind: IdentifierKind, text: String)] = email.map { (.email, $0) } + phone.map { (.phone, $0) }
        for item in id {
            guard let eq = item.firstIndex(of: "=") else {
                throw DossierError(.usage, "--id takes KIND=VALUE, such as crm_id=17")
            }
            let kind = String(item[..<eq])
            guard IdentifierKind.isValidName(kind) else {
                throw DossierError(.usage, "'\(kind)' is not an identifier kind (lower-case letters, digits and _)")
            }
            result.append((IdentifierKind(kind), String(item[item.index(after: eq)...])))
        }
        return result
    }
}

extension RequestKind: ExpressibleByArgument {}
extension RequestStatus: ExpressibleByArgument {}

/// `--as-of TIME`: a UTC time such as 2026-01-31T09:00:00Z; nil when not given.
func parseAsOf(_ text: String?) throws(DossierError) -> Date? {
    guard let text else { return nil }
    // The whole-second form the help shows is read by hand (Foundation's ISO 8601 parser took
    // 0.7 ms of a 30 ms export), to the same time (`Date(utcTimestamp:)`); any other by Foundation.
    if text.utf8.count == 20, let date = Date(utcTimestamp: text) { return date }
    guard let parsed = try? Date(text, strategy: .iso8601) else {
        throw DossierError(.usage, "--as-of takes a UTC time such as 2026-01-31T09:00:00Z")
    }
    return parsed
}
