import ArgumentParser
import DossierEngine
import DossierLedger
import DossierModel
import Foundation

/// The warning about a request's deadline on `today`, if it deserves one: overdue, due within a
/// week, or answered late. One sentence, no personal data.
func deadlineWarning(_ r: RequestRecord, today: Day) -> String? {
    switch r.timeliness(today: today) {
    case .overdue(let days):
        return "\(r.id) is overdue: the answer was due on \(r.deadline), \(days) day(s) ago (Art. 12(3))"
    case .dueSoon(let days):
        return "\(r.id) is due \(days == 0 ? "today" : days == 1 ? "tomorrow" : "in \(days) days") (\(r.deadline))"
    case .answeredLate(let days):
        return "\(r.id) was answered late: copy 1 went out \(days) day(s) after the deadline \(r.deadline)"
    case .onTime, .answered, .closed: return nil
    }
}

func warn(_ sentence: String) {
    FileHandle.standardError.write(Data("warning: \(sentence)\n".utf8))
}

/// The JSON of a request: the stable machine contract of `show --json` and `list --json`.
/// `timeliness` is where it stands against its deadline on `today`.
func requestJSON(_ r: RequestRecord, history: Bool, today: Day) -> Value {
    func text(_ s: String?) -> Value { s.map { .string($0) } ?? .null }
    var f = Fields([
        ("id", .string(r.id)), ("kind", .string(r.kind.rawValue)), ("status", .string(r.status.rawValue)),
        ("received", .string(r.received.description)), ("deadline", .string(r.deadline.description)),
        ("first_deadline", .string(r.firstDeadline.description)), ("extended_months", .number(String(r.extendedMonths))),
        ("extension_reason", text(r.extensionReason)),
        ("channel", .string(r.channel)), ("language", .string(r.language)), ("reference", text(r.reference)),
        ("timeliness", {
            let t = r.timeliness(today: today)
            return .object(Fields([("state", .string(t.name)), ("days", t.days.map { .number(String($0)) } ?? .null),
                                   ("warning", deadlineWarning(r, today: today).map { .string($0) } ?? .null)]))
        }()),
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
func printDelivery(_ d: Delivery, of id: String, packing archive: ArchiveOptions? = nil) {
    archive?.warnAboutOversizeParts(d.parts.map(\.size))
    if let late = d.late { warn("\(id) was answered late: copy 1 went out \(late.days) day(s) after the deadline \(late.deadline) (recorded)") }
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
        let today = try options.day()
        if let warning = deadlineWarning(r, today: today) { warn(warning) }
        if json { print(requestJSON(r, history: true, today: today).prettyJSONText(), terminator: ""); return }
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
        let today = try options.day()
        let service = try await options.service()
        let statuses = status.isEmpty ? nil : Set(status)
        var tally = DeadlineTally()
        if json {
            // Element by element as the ledger hands them over, the same bytes as one pretty-printed
            // array; never the whole list in memory.
            var chunk: [UInt8] = []
            chunk.reserveCapacity(1 << 17)
            var first = true
            let out = FileHandle.standardOutput
            try await service.forEachListed(statuses: statuses, due: due, today: today) { r throws(DossierError) in
                tally.count(r, today: today)
                chunk += first ? Array("[\n  ".utf8) : Array(",\n  ".utf8)
                first = false
                requestJSON(r, history: false, today: today).appendPrettyJSON(to: &chunk, indent: 2)
                if chunk.count >= 1 << 16 { try Self.emit(chunk, to: out); chunk.removeAll(keepingCapacity: true) }
            }
            chunk += Array((first ? "[]\n" : "\n]\n").utf8)
            try Self.emit(chunk, to: out)
        } else {
            // Two passes over the ledger, the first for the columns' widths, rather than the whole
            // table in memory; a row added between them is printed unpadded, never cut.
            let header = ["ID", "KIND", "STATUS", "RECEIVED", "DEADLINE", "DUE", "COPIES", "FLAGS"]
            var widths = header.map(\.count)
            try await service.forEachListed(statuses: statuses, due: due, today: today) { r in
                tally.count(r, today: today)
                for (i, cell) in Self.row(r, today: today).enumerated() { widths[i] = max(widths[i], cell.count) }
            }
            func line(_ cells: [String]) -> String {
                zip(cells, widths).map { $0.0 + String(repeating: " ", count: max(0, $0.1 - $0.0.count)) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }
            print(line(header))
            try await service.forEachListed(statuses: statuses, due: due, today: today) { r in print(line(Self.row(r, today: today))) }
        }
        warnAboutDeadlines(tally)
    }

    static func emit(_ bytes: [UInt8], to out: FileHandle) throws(DossierError) {
        do { try out.write(contentsOf: bytes) } catch {
            throw DossierError(.outputWrite, "cannot write the list to the standard output (\(error.localizedDescription))")
        }
    }

    static func row(_ r: RequestRecord, today: Day) -> [String] {
        [r.id, r.kind.rawValue, r.status.rawValue, r.received.description, r.deadline.description, due(r.timeliness(today: today)),
         String(r.deliveries.count), r.flags.joined(separator: ",")]
    }

    /// The DUE column: `OVERDUE 12d`, `in 3d`, `late 5d` (answered late), or empty.
    static func due(_ t: Timeliness) -> String {
        switch t {
        case .overdue(let d): return "OVERDUE \(d)d"
        case .dueSoon(let d), .onTime(let d): return "in \(d)d"
        case .answeredLate(let d): return "late \(d)d"
        case .answered, .closed: return ""
        }
    }

    /// The listed requests that are overdue or due within a week, counted as they pass.
    struct DeadlineTally {
        var overdue = 0, soon = 0
        var oldest: Day?

        mutating func count(_ r: RequestRecord, today: Day) {
            switch r.timeliness(today: today) {
            case .overdue: overdue += 1; oldest = min(oldest ?? r.deadline, r.deadline)
            case .dueSoon: soon += 1
            default: break
            }
        }
    }

    /// One line on stderr for the listed requests that are overdue or due within a week, with the
    /// command that lists them.
    func warnAboutDeadlines(_ tally: DeadlineTally) {
        if tally.overdue > 0, let oldest = tally.oldest {
            warn("\(tally.overdue) open request(s) overdue, the oldest due on \(oldest); list them: dossier request list --overdue\(options.pastable)")
        }
        if tally.soon > 0 {
            warn("\(tally.soon) open request(s) due within 7 days; list them: dossier request list --due-within 7d\(options.pastable)")
        }
    }
}

