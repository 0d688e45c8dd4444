import ArgumentParser
import DossierEngine
import DossierLedger
import DossierModel
import Foundation

/// The JSON of a request: the stable machine contract of `show --json` and `list --json`.
func requestJSON(_ r: RequestRecord, history: Bool) -> Value {
    func text(_ s: String?) -> Value { s.map { .string($0) } ?? .null }
    var f = Fields([
        ("id", .string(r.id)), ("kind", .string(r.kind.rawValue)), ("status", .string(r.status.rawValue)),
        ("received", .string(r.received.description)), ("deadline", .string(r.deadline.description)),
        ("first_deadline", .string(r.firstDeadline.description)), ("extended_months", .number(String(r.extendedMonths))),
        ("extension_reason", text(r.extensionReason)),
        ("channel", .string(r.channel)), ("language", .string(r.language)), ("reference", text(r.reference)),
        ("identifiers", .array(r.identifiers.map { .object(Fields([("kind", .string($0.kind.name)), ("value", .string($0.value))])) })),
        ("verification", r.verifiedAt.map { at in .object(Fields([
            ("method", text(r.verificationMethod)), ("by", text(r.verifiedBy)), ("at", .string(at.utcTimestamp)),
        ])) } ?? .null),
        ("review", r.reviewedAt.map { at in .object(Fields([
            ("at", .string(at.utcTimestamp)), ("fingerprint", text(r.reviewedFingerprint)),
            ("approved_by", text(r.approvedBy)), ("approved_at", text(r.approvedAt?.utcTimestamp)),
            ("approved_fingerprint", text(r.approvedFingerprint)),
        ])) } ?? .null),
        ("flags", .array(r.flags.map { .string($0) })), ("evidence", .array(r.evidence)),
        ("refusal_reason", text(r.refusalReason)), ("withdrawal_reason", text(r.withdrawalReason)),
        ("deliveries", .array(r.deliveries.map { d in .object(Fields([
            ("copy", .number(String(d.copy))), ("fee", .string(d.fee)), ("currency", .string(d.currency)),
            ("sha256", .string(d.sha256)), ("size", .number(String(d.size))), ("format", .string(d.format)),
            ("path", .string(d.path)), ("at", .string(d.at.utcTimestamp)), ("fingerprint", .string(d.fingerprint)),
            ("expires_on", text(d.expiresOn?.description)), ("purged_at", text(d.purgedAt?.utcTimestamp)),
            ("parts", .array(d.parts.map { p in .object(Fields([
                ("path", .string(p.path)), ("sha256", .string(p.sha256)), ("size", .number(String(p.size))),
            ])) })),
        ])) })),
        ("transmissions", .array(r.transmissions.map { t in .object(Fields([
            ("copy", .number(String(t.copy))), ("at", .string(t.at.utcTimestamp)), ("destination", .string(t.destination)),
            ("accepted", .bool(t.accepted)), ("status", t.status.map { .number(String($0)) } ?? .null),
            ("response_sha256", text(t.responseSHA256)), ("response_size", t.responseSize.map { .number(String($0)) } ?? .null),
            ("response", text(t.response)), ("attempts", .number(String(t.attempts))),
            ("idempotency_key", .string(t.idempotencyKey)), ("error", text(t.error)),
        ])) })),
    ])
    if history {
        f.append("history", .array(r.history.map { h in .object(Fields([
            ("at", .string(h.at.utcTimestamp)), ("from", text(h.from?.rawValue)), ("to", .string(h.to.rawValue)), ("note", text(h.note)),
        ])) }))
    }
    return .object(f)
}

/// What `fulfil` and an accepted `copy` print: what was delivered, then the archive's path (each part's, in order) last.
func printDelivery(_ d: Delivery) {
    if d.parts.isEmpty {
        print("copy \(d.copy) delivered, fee \(d.fee) \(d.currency), sha256 \(d.sha256)")
    } else {
        print("copy \(d.copy) delivered in \(d.parts.count) parts, fee \(d.fee) \(d.currency), sha256 of the parts' list \(d.sha256)")
    }
    for path in d.paths { print(path) }
}

struct RequestShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one request: status, deadline, verification, deliveries and fees, history.")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Flag(name: .long, help: "Print one JSON object (the stable contract for scripts).") var json = false

    func run() async throws {
        let r = try await options.service().request(id)
        if json { print(requestJSON(r, history: true).prettyJSONText(), terminator: ""); return }
        print("\(r.id)  \(r.kind.rawValue)  \(r.status.rawValue)")
        print("received  \(r.received) via \(r.channel), answer in \(r.language)")
        print("deadline  \(r.deadline)\(r.extendedMonths > 0 ? " (extended by \(r.extendedMonths) month(s) from \(r.firstDeadline): \(r.extensionReason ?? ""))" : "")")
        print("verified  \(r.verifiedAt.map { "\($0.utcTimestamp) by \(r.verifiedBy ?? "?"): \(r.verificationMethod ?? "")" } ?? "no")")
        if let at = r.reviewedAt {
            print("reviewed  \(at.utcTimestamp); \(r.approvedAt.map { "approved \($0.utcTimestamp) by \(r.approvedBy ?? "?")" } ?? "not approved")")
        }
        if !r.flags.isEmpty { print("flags     \(r.flags.joined(separator: ", "))") }
        if let reason = r.refusalReason { print("refused   \(reason)") }
        print("subject   \(r.identifiers.count) identifier(s): \(r.identifiers.map(\.kind.name).joined(separator: ", "))")
        for d in r.deliveries {
            print("copy \(d.copy)    \(d.at.utcTimestamp)  fee \(d.fee) \(d.currency)  \(d.format)  \(d.size) bytes  sha256 \(d.sha256)")
            let kept = d.purgedAt.map { "  (purged \($0.utcTimestamp))" } ?? d.expiresOn.map { "  (kept until \($0))" } ?? ""
            if d.parts.isEmpty {
                print("          \(d.path)\(kept)")
            } else {
                for (i, p) in d.parts.enumerated() { print("  part \(i + 1)  \(p.size) bytes  sha256 \(p.sha256)  \(p.path)\(kept)") }
            }
        }
        for t in r.transmissions {
            let outcome = t.accepted ? "accepted (\(t.status ?? 0)), answer sha256 \(t.responseSHA256 ?? "")" : "failed: \(t.error ?? "")"
            print("sent      copy \(t.copy) \(t.at.utcTimestamp) to \(t.destination): \(outcome)")
        }
        for h in r.history { print("history   \(h.at.utcTimestamp)  \(h.from?.rawValue ?? "-") → \(h.to.rawValue)  \(h.note ?? "")") }
    }
}


struct RequestList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List requests, e.g. the overdue ones or those due within a week.")

    @OptionGroup var options: LedgerOptions
    @Option(name: .long, help: "Only requests in this status (repeatable).") var status: [RequestStatus] = []
    @Flag(name: .long, help: "Only open requests whose deadline has passed.") var overdue = false
    @Option(name: .customLong("due-within"), help: ArgumentHelp("Only open requests due within this many days, e.g. 7d.", valueName: "days"))
    var dueWithin: String?
    @Flag(name: .long, help: "Print a JSON array.") var json = false

    func run() async throws {
        var due: RequestService.Due?
        if overdue { due = .overdue }
        if let dueWithin {
            let digits = dueWithin.hasSuffix("d") ? String(dueWithin.dropLast()) : dueWithin
            guard let n = Int(digits), n >= 0 else { throw DossierError(.usage, "--due-within takes a number of days such as 7d") }
            if overdue { throw DossierError(.usage, "give --overdue or --due-within, not both") }
            due = .within(days: n)
        }
        let list = try await options.service().list(statuses: status.isEmpty ? nil : Set(status), due: due, today: try options.day())
        if json {
            print(Value.array(list.map { requestJSON($0, history: false) }).prettyJSONText(), terminator: "")
            return
        }
        let rows = [["ID", "KIND", "STATUS", "RECEIVED", "DEADLINE", "COPIES", "FLAGS"]] + list.map { r in
            [r.id, r.kind.rawValue, r.status.rawValue, r.received.description, r.deadline.description, String(r.deliveries.count), r.flags.joined(separator: ",")]
        }
        let widths = (0..<7).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            print(zip(row, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}

