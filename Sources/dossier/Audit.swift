import ArgumentParser
import DossierEngine
import DossierModel
import Foundation

/// `dossier audit …`: the hash-chained audit trail.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check or export the append-only, hash-chained audit trail of the ledger.",
        subcommands: [AuditVerify.self, AuditExport.self])
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the chain; name the first row that was edited, deleted or inserted out of order (exit 65).")

    @OptionGroup var options: LedgerOptions

    func run() async throws {
        let verdict = try await options.service().ledger.verifyAudit()
        if let broken = verdict.firstBreak {
            throw DossierError(.refused, "the audit trail is broken at row \(broken.seq): \(broken.reason)")
        }
        print("audit trail intact: \(verdict.rows) rows")
    }
}

struct AuditExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Print the audit trail as JSON Lines, one row a line, oldest first.")

    @OptionGroup var options: LedgerOptions

    func run() async throws {
        try await options.service().ledger.auditRows { row throws(DossierError) in print(row.jsonText()) }
    }
}
