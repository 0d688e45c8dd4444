import DossierLedger
import DossierModel
import Foundation

/// Expiry: a delivered archive is kept until its `expiresOn` day, then `dossier purge` deletes it.
/// The delivery row stays, with its hash and the day it was purged, so the ledger still proves what
/// was sent; a later copy is a new copy.
///
/// ```swift
/// for p in try await service.purge(today: Day("2026-12-31")!) { print(p.requestID, p.delivery.copy) }
/// ```
extension RequestService {
    /// One archive `purge` deleted (or found already gone).
    public struct Purged: Sendable {
        public let requestID: String
        public let delivery: Delivery
        /// False when the file was no longer there (deleted by hand, or never shared with this host).
        public let fileExisted: Bool
    }

    /// Deletes every archive that expired before `today` and records each purge.
    public func purge(today: Day) async throws(DossierError) -> [Purged] {
        var done: [Purged] = []
        for (requestID, delivery) in try await ledger.expiredDeliveries(before: today) {
            var existed = false
            let purged = try await ledger.markPurged(requestID: requestID, copy: delivery.copy, at: now()) { () throws(DossierError) in
                for path in delivery.paths {
                    if unlink(path) == 0 {
                        existed = true
                    } else if errno != ENOENT {
                        throw DossierError(.outputWrite, "cannot delete the expired archive of request \(requestID), copy \(delivery.copy)",
                                           at: SourceLocation(file: path))
                    }
                }
            }
            if purged { done.append(Purged(requestID: requestID, delivery: delivery, fileExisted: existed)) }
        }
        return done
    }
}
