import DossierModel
import Foundation

/// A command that knows the options a printed hint must repeat to work when pasted: the data map,
/// a ledger file, `--today` (never a PostgreSQL URL: it may hold a password).
protocol HintContext {
    var pastable: String { get }
}

/// The commands whose ledger options a hint repeats.
protocol LedgerCommand: HintContext {
    var options: LedgerOptions { get }
}

extension LedgerCommand {
    var pastable: String { options.pastable }
}

extension RequestOpen: LedgerCommand {}
extension RequestImport: LedgerCommand {}
extension RequestVerify: LedgerCommand {}
extension RequestExtend: LedgerCommand {}
extension RequestFulfil: LedgerCommand {}
extension RequestCopy: LedgerCommand {}
extension RequestRefuse: LedgerCommand {}
extension RequestWithdraw: LedgerCommand {}
extension RequestShow: LedgerCommand {}
extension RequestList: LedgerCommand {}
extension RequestReview: LedgerCommand {}
extension RequestApprove: LedgerCommand {}
extension RequestTransmit: LedgerCommand {}
extension RunDue: LedgerCommand {}
extension Worker: LedgerCommand {}
extension AuditVerify: LedgerCommand {}
extension AuditExport: LedgerCommand {}
extension Purge: LedgerCommand {}

extension Batch: HintContext {
    var pastable: String { LedgerOptions.pastable(config: config, ledger: ledger, today: today) }
}

enum Shell {
    /// One word as a POSIX shell reads it back: bare when it is safe, otherwise in single quotes.
    static func quoted(_ s: String) -> String {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+:@=,".contains($0)) }
            ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// This process's own command line, pasteable: `dossier` and its arguments as given; nil when an
    /// argument holds a PostgreSQL URL (it may hold a password, which is never printed).
    static var sameCommand: String? {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.contains(where: holdsPostgresURL) { return nil }
        return (["dossier"] + arguments.map(quoted)).joined(separator: " ")
    }

    /// A PostgreSQL URL (`--ledger postgres://…`, or `--ledger=postgres://…`), which may hold a password.
    static func holdsPostgresURL(_ argument: String) -> Bool {
        argument.contains("postgres://") || argument.contains("postgresql://")
    }

    /// "run the same command again[ with EXTRA]", as a pasteable command when it can be printed.
    static func again(adding extra: String = "") -> String {
        guard let same = sameCommand else { return "run the same command again\(extra.isEmpty ? "" : " with\(extra)")" }
        return "run the same command again: \(same)\(extra)"
    }
}

extension DossierError.NextStep {
    /// The step as a command to paste, with the options of the run that printed it.
    func command(_ pastable: String) -> String {
        switch self {
        case .verify(let id):
            return "dossier request verify \(Shell.quoted(id))\(pastable) --method 'HOW THE IDENTITY WAS CHECKED' --by NAME"
        case .review(let id): return "dossier request review \(Shell.quoted(id))\(pastable)"
        case .approve(let id): return "dossier request approve \(Shell.quoted(id))\(pastable) --by NAME"
        case .fulfil(let id): return "dossier request fulfil \(Shell.quoted(id))\(pastable)"
        case .furtherCopy(let id): return "dossier request copy \(Shell.quoted(id))\(pastable)"
        }
    }
}
