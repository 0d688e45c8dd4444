import ArgumentParser
import DossierEngine
import DossierLedger
import DossierModel
import DossierTransmission
import Foundation

/// `dossier request transmit`: a portability copy sent straight to another controller (Art. 20(2)).
struct RequestTransmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transmit",
        abstract: "Send a portability copy straight to another controller over HTTPS (Art. 20(2)); records the answer and its hash.",
        discussion: """
        Sends the request's latest copy (or --copy N) as one HTTPS POST: the archive as the body \
        (Content-Type application/zip, application/gzip or application/zstd; Content-Disposition with \
        its file name; Content-Digest with its SHA-256), an Idempotency-Key that is the same for every \
        retry of this copy to this address, and a bearer token from the environment variable \
        --token-env names. When the request has no copy yet, copy 1 is produced first (as 'request \
        fulfil'). The archive is checked against the hash the ledger recorded before it leaves.

        A lost answer, a timeout, 408, 429 and 5xx are retried (5 attempts, honouring Retry-After); \
        redirects are not followed; plain http is refused. Every outcome is recorded in the ledger \
        (status, the SHA-256 of the answer, its start when it is text, attempts) with an audit row. A \
        copy the receiver accepted is not sent to the same address again: running the command again \
        says so and sends nothing.

        Example:
          RECEIVER_TOKEN=… dossier request transmit DSR-2026-0007 --config map.yaml \\
              --to https://import.example.com/v1/archives --token-env RECEIVER_TOKEN

        Exit codes: 0 accepted (or accepted before); 64 a bad address or option; 65 the request is \
        not a verified portability request, or the receiver refused the archive (4xx, a redirect); \
        73 the archive is not on this machine; 75 the receiver could not be reached or stayed busy \
        (run it again: the same idempotency key is sent).
        """)

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions

    @Option(name: .long, help: ArgumentHelp("The receiving controller's endpoint: an https:// address.", valueName: "url"))
    var to: String

    @Option(name: .customLong("token-env"), help: ArgumentHelp("The environment variable holding the receiver's bearer token (sent as Authorization: Bearer).", valueName: "name"))
    var tokenEnv: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Also trust the authorities in this PEM file (a receiver whose certificate a private authority signed).", valueName: "file"))
    var caFile: String?

    @Option(name: .long, help: ArgumentHelp("Send this copy instead of the latest.", valueName: "n"))
    var copy: Int?

    @Option(name: .long, help: ArgumentHelp("The longest one attempt may take, in seconds (upload and answer).", valueName: "seconds"))
    var timeout: Int = 600

    @OptionGroup var archive: ArchiveOptions

    @Option(name: .long, help: ArgumentHelp("When copy 1 is produced here: keep it this long (7d, 2w, 1m, P30D).", valueName: "period"))
    var expires: Period?

    func validate() throws {
        if archive.splitSize != nil { throw ValidationError("a transmission sends one archive: --split-size does not go with transmit") }
        if let copy, copy < 1 { throw ValidationError("--copy takes a copy number, 1 or more") }
        if timeout < 1 { throw ValidationError("--timeout takes a number of seconds, at least 1") }
    }

    func run() async throws {
        var token: String?
        if let tokenEnv {
            guard let value = ProcessInfo.processInfo.environment[tokenEnv], !value.isEmpty else {
                throw DossierError(.usage, "the environment variable \(tokenEnv) that --token-env names is not set")
            }
            token = value
        }
        let destination = try Transmitter.Destination(address: to, token: token, caFile: caFile, timeout: timeout)
        let service = try await options.service()
        let sent = try await service.transmit(id, to: destination, copy: copy, packing: try Packing(archive, expires: expires),
                                              today: try options.day())
        let t = sent.transmission
        if sent.producedCopy { printDelivery(sent.delivery, of: id) }
        if sent.alreadyAccepted {
            print("already transmitted: \(id) copy \(t.copy) was accepted by \(t.host) on \(t.at.utcTimestamp) (\(t.status ?? 0)); nothing was sent again")
        } else {
            print("transmitted: \(id) copy \(t.copy) to \(t.host): accepted (\(t.status ?? 0)) after \(t.attempts) attempt(s); answer sha256 \(t.responseSHA256 ?? "")")
        }
    }
}
