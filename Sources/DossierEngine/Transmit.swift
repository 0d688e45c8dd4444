import Crypto
import DossierLedger
import DossierModel
import DossierTransmission
import Foundation

/// Direct transmission (Art. 20(2)): a portability copy sent straight to another controller.
///
/// The copy sent is one the ledger already holds (the latest, or a chosen one; copy 1 is produced
/// first when there is none), checked against its recorded hash before it leaves. Every outcome is
/// recorded with the receiver's status and the hash of its answer. A retry sends the same
/// idempotency key, derived from the request, the copy, the archive's hash and the destination, so a
/// receiver that already took the archive recognises it; a copy the receiver accepted is not sent
/// to the same destination again, and no retry ever makes a second copy.
///
/// ```swift
/// let destination = try Transmitter.Destination(address: "https://import.example.com/archives", token: token)
/// let sent = try await service.transmit("DSR-2026-0007", to: destination, packing: Packing(format: .zip), today: today)
/// print(sent.transmission.status ?? 0, sent.transmission.responseSHA256 ?? "")
/// ```
extension RequestService {
    public struct Transmitted: Sendable {
        public let requestID: String
        public let delivery: Delivery
        public let transmission: Transmission
        /// True when the receiver had already accepted this copy: nothing was sent now.
        public let alreadyAccepted: Bool
        /// True when copy 1 was produced for this transmission.
        public let producedCopy: Bool
    }

    public func transmit(_ id: String, to destination: Transmitter.Destination, copy wanted: Int? = nil, packing: Packing,
                         today: Day) async throws(DossierError) -> Transmitted {
        var r = try await request(id)
        guard r.kind == .portability else {
            throw DossierError(.refused, "request \(id) is an access request; sending the data to another controller (Art. 20(2)) is a right of portability requests")
        }
        try checkNotClosed(r)
        var produced = false
        if r.deliveries.isEmpty {
            guard wanted == nil || wanted == 1 else { throw DossierError(.usage, "request \(id) has no copy \(wanted!) yet") }
            _ = try await fulfil(r, packing: packing, using: nil)
            r = try await request(id)
            produced = true
        }
        guard let delivery = wanted.map({ n in r.deliveries.first { $0.copy == n } }) ?? r.deliveries.last else {
            throw DossierError(.usage, "request \(id) has no copy \(wanted!); its copies are \(r.deliveries.map { String($0.copy) }.joined(separator: ", "))")
        }
        if let accepted = r.transmissions.last(where: { $0.accepted && $0.copy == delivery.copy && $0.destination == destination.recorded }) {
            return Transmitted(requestID: id, delivery: delivery, transmission: accepted, alreadyAccepted: true, producedCopy: false)
        }
        if let purged = delivery.purgedAt {
            throw DossierError(.refused, "copy \(delivery.copy) of request \(id) was purged on \(purged.utcTimestamp); send a further copy",
                               next: .furtherCopy(request: id))
        }
        guard delivery.parts.isEmpty else {
            throw DossierError(.usage, "copy \(delivery.copy) of request \(id) is in \(delivery.parts.count) parts; a transmission sends one archive: make a copy without --split-size")
        }
        try Self.checkIntact(delivery, requestID: id)

        // One transmission of a request at a time: the claim that guards copies guards this too.
        let claim = try await ledger.claim(id, at: now())
        let renewal = renewing(claim)
        defer { renewal?.cancel() }
        // Taken over from a process that died producing a copy: what it left goes, as `deliver` does.
        if claim.recovered, let archives = try? archiveFolder() {
            do throws(DossierError) { try removeLeftovers(of: try await request(id), in: archives) } catch {
                try? await ledger.release(claim)
                throw error
            }
        }
        let file = TransmittedFile(url: URL(fileURLWithPath: delivery.path), name: URL(fileURLWithPath: delivery.path).lastPathComponent,
                                   contentType: Self.contentType(delivery.format), size: delivery.size, sha256: delivery.sha256,
                                   idempotencyKey: Self.idempotencyKey(requestID: id, delivery: delivery, destination: destination.recorded))
        var transmission = Transmission(copy: delivery.copy, at: now(), destination: destination.recorded, idempotencyKey: file.idempotencyKey,
                                        accepted: false, status: nil, responseSHA256: nil, responseSize: nil, response: nil,
                                        attempts: 0, error: nil)
        var failure: DossierError?
        do throws(Transmitter.Failure) {
            let receipt = try await Transmitter(destination).send(file)
            transmission.accepted = true
            transmission.status = receipt.status
            transmission.responseSHA256 = receipt.responseSHA256
            transmission.responseSize = receipt.responseSize
            transmission.response = receipt.responseText
            transmission.attempts = receipt.attempts
        } catch {
            transmission.status = error.status
            transmission.responseSHA256 = error.responseSHA256
            transmission.responseSize = error.responseSize
            transmission.response = error.responseText
            transmission.attempts = error.attempts
            transmission.error = error.error.message
            failure = error.error
        }
        transmission.at = now()
        do throws(DossierError) {
            try await ledger.recordTransmission(transmission, requestID: id)
        } catch {
            try? await ledger.release(claim)
            throw DossierError(error.kind, transmission.accepted
                ? "the receiver accepted copy \(delivery.copy) (\(transmission.status ?? 0)), but the ledger could not record it: \(error.message); running transmit again sends the same idempotency key"
                : error.message)
        }
        try? await ledger.release(claim)
        if let failure { throw failure }
        return Transmitted(requestID: id, delivery: delivery, transmission: transmission, alreadyAccepted: false, producedCopy: produced)
    }

    /// The archive on disk must be the one the ledger recorded: same size, same SHA-256.
    static func checkIntact(_ delivery: Delivery, requestID: String) throws(DossierError) {
        let url = URL(fileURLWithPath: delivery.path)
        guard FileManager.default.isReadableFile(atPath: url.path),
              let described = try? BundleFile.digest(of: url) else {
            throw DossierError(.outputUnavailable, "the archive of copy \(delivery.copy) of request \(requestID) is not there (deleted, or on another machine); send a further copy",
                               at: SourceLocation(file: delivery.path), next: .furtherCopy(request: requestID))
        }
        guard described.size == delivery.size, described.sha256 == delivery.sha256 else {
            throw DossierError(.refused, "the archive of copy \(delivery.copy) of request \(requestID) is not the one the ledger recorded (changed or damaged since); it is not sent",
                               at: SourceLocation(file: delivery.path))
        }
    }

    /// `dossier-` and 40 hex digits of SHA-256 over the request, the copy, the archive's hash and the
    /// destination: the same for every retry, different for another copy or receiver.
    static func idempotencyKey(requestID: String, delivery: Delivery, destination: String) -> String {
        let text = "\(requestID)\n\(delivery.copy)\n\(delivery.sha256)\n\(destination)"
        return "dossier-" + Hex.string(SHA256.hash(data: Data(text.utf8))).prefix(40)
    }

    static func contentType(_ format: String) -> String {
        switch format {
        case "zip": return "application/zip"
        case "tar.gz": return "application/gzip"
        case "tar.zst": return "application/zstd"
        default: return "application/octet-stream"
        }
    }
}
