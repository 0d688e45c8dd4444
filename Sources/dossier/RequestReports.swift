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
/// `timeliness` is where it stands against its deadline on `today`. Written straight into `w`
/// (building a `Value` first cost a third of `list --json` over 100,000 requests).
func writeRequestJSON(_ r: RequestRecord, history: Bool, today: Day, to w: inout PrettyJSONWriter) {
    w.beginObject()
    w.key("id"); w.string(r.id)
    w.key("kind"); w.string(r.kind.rawValue)
    w.key("status"); w.string(r.status.rawValue)
    w.key("received"); w.string(r.received.description)
    w.key("deadline"); w.string(r.deadline.description)
    w.key("first_deadline"); w.string(r.firstDeadline.description)
    w.key("extended_months"); w.number(r.extendedMonths)
    w.key("extension_reason"); w.text(r.extensionReason)
    w.key("channel"); w.string(r.channel)
    w.key("language"); w.string(r.language)
    w.key("reference"); w.text(r.reference)
    w.key("timeliness")
    let t = r.timeliness(today: today)
    w.beginObject()
    w.key("state"); w.string(t.name)
    w.key("days"); if let days = t.days { w.number(days) } else { w.null() }
    w.key("warning"); w.text(deadlineWarning(r, today: today))
    w.endObject()
    w.key("identifiers")
    w.beginArray()
    for id in r.identifiers {
        w.beginObject()
        w.key("kind"); w.string(id.kind.name)
        w.key("value"); w.string(id.value)
        w.endObject()
    }
    w.endArray()
    w.key("verification")
    if let at = r.verifiedAt {
        w.beginObject()
        w.key("method"); w.text(r.verificationMethod)
        w.key("by"); w.text(r.verifiedBy)
        w.key("at"); w.string(at.utcTimestamp)
        w.endObject()
    } else { w.null() }
    w.key("review")
    if let at = r.reviewedAt {
        w.beginObject()
        w.key("at"); w.string(at.utcTimestamp)
        w.key("fingerprint"); w.text(r.reviewedFingerprint)
        w.key("approved_by"); w.text(r.approvedBy)
        w.key("approved_at"); w.text(r.approvedAt?.utcTimestamp)
        w.key("approved_fingerprint"); w.text(r.approvedFingerprint)
        w.endObject()
    } else { w.null() }
    w.key("flags")
    w.beginArray()
    for flag in r.flags { w.string(flag) }
    w.endArray()
    w.key("evidence")
    w.beginArray()
    for item in r.evidence { w.value(item) }
    w.endArray()
    w.key("refusal_reason"); w.text(r.refusalReason)
    w.key("withdrawal_reason"); w.text(r.withdrawalReason)
    w.key("deliveries")
    w.beginArray()
    for d in r.deliveries {
        w.beginObject()
        w.key("copy"); w.number(d.copy)
        w.key("fee"); w.string(d.fee)
        w.key("currency"); w.string(d.currency)
        w.key("sha256"); w.string(d.sha256)
        w.key("size"); w.number(d.size)
        w.key("format"); w.string(d.format)
        w.key("path"); w.string(d.path)
        w.key("at"); w.string(d.at.utcTimestamp)
        w.key("fingerprint"); w.string(d.fingerprint)
        w.key("expires_on"); w.text(d.expiresOn?.description)
        w.key("purged_at"); w.text(d.purgedAt?.utcTimestamp)
        w.key("parts")
        w.beginArray()
        for p in d.parts {
            w.beginObject()
            w.key("path"); w.string(p.path)
            w.key("sha256"); w.string(p.sha256)
            w.key("size"); w.number(p.size)
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }
    w.endArray()
    w.key("transmissions")
    w.beginArray()
    for t in r.transmissions {
        w.beginObject()
        w.key("copy"); w.number(t.copy)
        w.key("at"); w.string(t.at.utcTimestamp)
        w.key("destination"); w.string(t.destination)
        w.key("accepted"); w.bool(t.accepted)
        w.key("status"); if let status = t.status { w.number(status) } else { w.null() }
        w.key("response_sha256"); w.text(t.responseSHA256)
        w.key("response_size"); if let size = t.responseSize { w.number(size) } else { w.null() }
        w.key("response"); w.text(t.response)
        w.key("attempts"); w.number(t.attempts)
        w.key("idempotency_key"); w.string(t.idempotencyKey)
        w.key("error"); w.text(t.error)
        w.endObject()
    }
    w.endArray()
    if history {
        w.key("history")
        w.beginArray()
        for h in r.history {
            w.beginObject()
            w.key("at"); w.string(h.at.utcTimestamp)
            w.key("from"); w.text(h.from?.rawValue)
            w.key("to"); w.string(h.to.rawValue)
            w.key("note"); w.text(h.note)
            w.endObject()
        }
        w.endArray()
    }
    w.endObject()
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
        if json {
            var w = PrettyJSONWriter()
            writeRequestJSON(r, history: true, today: today, to: &w)
            print(String(decoding: w.bytes, as: UTF8.self))
            return
        }
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
            var w = PrettyJSONWriter(indent: 2)
            w.bytes.reserveCapacity(1 << 17)
            var first = true
            let out = FileHandle.standardOutput
            try await service.forEachListed(statuses: statuses, due: due, today: today) { r throws(DossierError) in
                tally.count(r, today: today)
                w.bytes += first ? Array("[\n  ".utf8) : Array(",\n  ".utf8)
                first = false
                writeRequestJSON(r, history: false, today: today, to: &w)
                if w.bytes.count >= 1 << 16 { try Self.emit(w.bytes, to: out); w.bytes.removeAll(keepingCapacity: true) }
            }
            w.bytes += Array((first ? "[]\n" : "\n]\n").utf8)
            try Self.emit(w.bytes, to: out)
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

