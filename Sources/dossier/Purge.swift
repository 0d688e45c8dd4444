import ArgumentParser
import DossierEngine
import DossierModel
import Foundation

/// `dossier purge`: deletes delivered archives whose time is up (for cron).
struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete the delivered archives that have expired; the ledger keeps each delivery, its hash and the day it was purged.",
        discussion: """
        A delivery expires after the map's ledger.expires_after (e.g. P30D) or the --expires given to \
        fulfil, copy or run-due; it is purged the day after its last day. Each deletion is recorded in \
        the audit trail ('purged'). A later copy of the request is a new copy. Prints one line per \
        archive and a summary; exit 0.

        Example (daily, from cron or a systemd timer):
          dossier purge --config map.yaml
        """)

    @OptionGroup var options: LedgerOptions

    func run() async throws {
        let purged = try await options.service().purge(today: try options.day())
        for p in purged {
            let expiry = p.delivery.expiresOn.map { " (kept until \($0))" } ?? ""
            let parts = p.delivery.parts.count > 1 ? " and the \(p.delivery.parts.count - 1) further part(s) beside it" : ""
            print("purged: \(p.requestID) copy \(p.delivery.copy)\(expiry): \(p.delivery.path)\(parts)\(p.fileExisted ? "" : " (already gone)")")
        }
        print("purge: \(purged.count) archive\(purged.count == 1 ? "" : "s") deleted")
    }
}
