import Crypto
import DossierArchive
import DossierLedger
import DossierModel
import DossierPostgres
import Foundation
import Logging

/// How a delivered copy is packed.
public struct Packing: Sendable {
    public var format: ArchiveFormat
    public var passphrase: String?
    public var csvBOM: Bool
    /// How long the archive is kept (overrides the map's `ledger.expires_after`).
    public var expires: Period?
    /// Splits the copy into archives of at most this many bytes of files, each recorded as a part.
    public var splitSize: Int?
    public init(format: ArchiveFormat, passphrase: String? = nil, csvBOM: Bool = false, expires: Period? = nil, splitSize: Int? = nil) {
        self.format = format; self.passphrase = passphrase; self.csvBOM = csvBOM; self.expires = expires; self.splitSize = splitSize
    }
}

/// The request workflow of a privacy officer, on a ledger: open, verify, extend, fulfil, copy,
/// refuse, withdraw. Every rule of DESIGN.md ("Rules Dossier implements") is applied here; the
/// ledger stores, the exporter produces.
///
/// ```swift
/// let service = try await RequestService.open(map: map, ledger: nil)
/// let opened = try await service.open(kind: .access, identifiers: [(.email, "anna@example.pl")], received: today, today: today)
/// try await service.verify(opened.request.id, method: "reply from the registered e-mail", by: "J. Kowalski", today: today)
/// let delivery = try await service.fulfil(opened.request.id, packing: Packing(format: .zip), today: today)
/// await service.close()
/// ```
public final class RequestService: Sendable {
    public let map: DataMap?
    public let ledger: any Ledger
    public let calendar: WorkingCalendar
    /// Where copies are written; nil when neither the map nor the ledger's place gives a folder.
    public let archives: URL?
    let logger: Logger
    let now: @Sendable () -> Date
    /// The folder of the lookup indexes, when one is known.
    public let indexFolder: URL?

    public init(map: DataMap?, ledger: any Ledger, archives: URL?, indexFolder: URL? = nil, logger: Logger = Logger(label: "dossier"),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.map = map
        self.ledger = ledger
        self.archives = archives
        self.logger = logger
        self.now = now
        self.indexFolder = indexFolder ?? map.flatMap { m in m.indexPath.map { m.resolve(path: $0) } }
        let choice = map?.holidayCalendar(known: Set(HolidayTable.countries))
        calendar = WorkingCalendar(country: choice?.country, region: choice?.region, extra: map?.ledger.extraHolidays ?? [])
    }

    /// Opens the ledger `given` names (a SQLite file's path, or a `postgres://` URL), else the one the
    /// map names (`ledger.url_env`, else `ledger.path`). Copies go to the map's `ledger.archives`,
    /// else to `archives/` beside a SQLite ledger's file.
    public static func open(map: DataMap?, ledger given: String?, indexFolder: URL? = nil, connections: Int = 4,
                            logger: Logger = Logger(label: "dossier"),
                            now: @escaping @Sendable () -> Date = { Date() }) async throws(DossierError) -> RequestService {
        let mapArchives = map.flatMap { m in m.ledger.archives.map { m.resolve(path: $0) } }
        let ledger: any Ledger
        let archives: URL?
        if let given, given.hasPrefix("postgres://") || given.hasPrefix("postgresql://") {
            let endpoint = try PostgresEndpoint(url: given, variable: "--ledger", subject: "the ledger")
            ledger = try await PostgresLedger.open(endpoint, connections: connections, leaseSeconds: map?.ledger.leaseSeconds ?? 30)
            archives = mapArchives
        } else if given == nil, let map, let variable = map.ledger.urlVariable {
            guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
                throw DossierError(.usage, "the ledger's URL is read from the environment variable \(variable) (ledger.url_env), which is not set",
                                   at: SourceLocation(file: map.file, key: "ledger.url_env"))
            }
            ledger = try await PostgresLedger.open(try PostgresEndpoint(url: url, variable: variable, subject: "the ledger"),
                                                   connections: connections, leaseSeconds: map.ledger.leaseSeconds)
            archives = mapArchives
        } else {
            let path: String
            if let given {
                path = given
            } else if let map, let p = map.ledger.path {
                path = map.resolve(path: p).path
            } else {
                throw DossierError(.usage, "no ledger is named, and the data map names none in ledger.path or ledger.url_env", missing: .ledger)
            }
            ledger = try SQLiteLedger(path: path)
            archives = mapArchives ?? URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("archives")
        }
        return RequestService(map: map, ledger: ledger, archives: archives, indexFolder: indexFolder, logger: logger, now: now)
    }

    /// Closes the ledger.
    public func close() async { await ledger.close() }

    /// The folder copies are written to.
    func archiveFolder() throws(DossierError) -> URL {
        guard let archives else {
            throw DossierError(.usage, "copies need a folder: give ledger.archives in the data map (with a PostgreSQL ledger, a folder every worker sees)",
                               at: map.map { SourceLocation(file: $0.file, key: "ledger.archives") })
        }
        return archives
    }

    func requireMap(_ action: String) throws(DossierError) -> DataMap {
        guard let map else { throw DossierError(.usage, "\(action) needs the data map", missing: .dataMap) }
        return map
    }

    public func request(_ id: String) async throws(DossierError) -> RequestRecord {
        guard let r = try await ledger.request(id) else { throw DossierError(.usage, "there is no request \(id) in the ledger") }
        return r
    }

    // MARK: Open

    public struct Opened {
        public let request: RequestRecord
        /// Human-readable lines about flags (evidence of a possibly excessive request).
        public let notes: [String]
    }

    public func open(kind: RequestKind, identifiers given: [(kind: IdentifierKind, text: String)], received: Day,
                     channel: String = "email", language: String? = nil, reference: String? = nil,
                     today: Day) async throws(DossierError) -> Opened {
        let map = try requireMap("opening a request")
        guard received <= today else { throw DossierError(.usage, "the request cannot be received after today (\(today))") }
        if let language, !map.controller.languages.contains(language) {
            throw DossierError(.usage, "the data map offers the languages \(map.controller.languages.joined(separator: ", ")), not '\(language)'")
        }
        let exporter = Exporter(map: map, indexFolder: indexFolder, logger: logger)
        let identifiers = try exporter.normalizedIdentifiers(given)
        let firstDeadline = calendar.deadline(received: received, months: 1)

        // Art. 12(5): a copy delivered within the window, for the same subject, with unchanged data.
        var flags: [String] = [], evidence: [Value] = [], notes: [String] = []
        let since = map.ledger.repeatWindow.before(received)
        let earlier = try await ledger.deliveries(sharing: identifiers, since: since.start)
        if !earlier.isEmpty {
            let current = try await fingerprint(identifiers: identifiers, kind: kind, exporter: exporter)
            // The latest unchanged copy of each earlier request is the evidence.
            var latest: [String: Delivery] = [:]
            for (requestID, delivery) in earlier where delivery.fingerprint == current { latest[requestID] = delivery }
            for (requestID, delivery) in latest.sorted(by: { $0.key < $1.key }) {
                if !flags.contains("possibly_excessive") { flags.append("possibly_excessive") }
                evidence.append(.object(Fields([
                    ("flag", .string("possibly_excessive")), ("request", .string(requestID)), ("copy", .number(String(delivery.copy))),
                    ("delivered_at", .string(delivery.at.utcTimestamp)), ("fingerprint_then", .string(delivery.fingerprint)),
                    ("fingerprint_now", .string(current)), ("window", .string(map.ledger.repeatWindow.description)),
                ])))
                notes.append("possibly excessive (Art. 12(5)): request \(requestID) received copy \(delivery.copy) on \(delivery.at.utcTimestamp), and the data has not changed since (fingerprint \(current.prefix(16))…)")
            }
        }
        let record = try await ledger.createRequest(NewRequest(
            kind: kind, received: received, firstDeadline: firstDeadline, channel: channel,
            language: map.language(language), identifiers: identifiers, flags: flags, evidence: evidence,
            reference: reference), at: now())
        return Opened(request: record, notes: notes)
    }

    /// The content fingerprint of what an export would hold now (no archive is written).
    func fingerprint(identifiers: [Identifier], kind: RequestKind, exporter: Exporter) async throws(DossierError) -> String {
        let (scratch, token) = Scratch.temporaryURL("dossier-fingerprint")
        defer { Scratch.remove(scratch, token) }
        var request = ExportRequest(identifiers: identifiers.map { ($0.kind, $0.value) }, outputDirectory: scratch,
                                    requestID: "fingerprint", asOf: Date(timeIntervalSince1970: 0), kind: kind)
        request.pack = false
        return try await exporter.export(request).fingerprint
    }

    // MARK: State changes

    func change(_ id: String, to status: RequestStatus, note: String?, fields: [String: String?] = [:],
                audit: [(String, String)] = []) async throws(DossierError) {
        let r = try await request(id)
        try Self.checkTransition(r, to: status)
        try await ledger.apply(RequestChange(to: status, note: note, fields: fields, audit: audit), to: id, expecting: [r.status], at: now())
    }

    static func checkTransition(_ r: RequestRecord, to status: RequestStatus) throws(DossierError) {
        guard r.status.canMove(to: status) else {
            throw DossierError(.refused, "request \(r.id) is \(r.status.rawValue); it cannot become \(status.rawValue)\(r.status.isOpen ? "" : " (\(r.status.rawValue) is final)")")
        }
    }

    /// Art. 12(6): records how the requester's identity was checked and by whom.
    public func verify(_ id: String, method: String, by: String, today: Day) async throws(DossierError) {
        guard !method.trimmingCharacters(in: .whitespaces).isEmpty, !by.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DossierError(.usage, "say how the identity was checked and who checked it", missing: .verification)
        }
        let r = try await request(id)
        if r.isVerified { throw DossierError(.refused, "request \(id) is already verified") }
        // An extended request stays extended in its deadline; its status records the verification.
        try await change(id, to: .verified, note: "identity checked: \(method) (by \(by))",
                   fields: ["verification_method": method, "verified_by": by, "verified_at": now().utcTimestamp],
                   audit: [("on", today.description)])
    }

    /// Art. 12(3): up to two further months, with a reason, only while the first month runs.
    public func extend(_ id: String, months: Int, reason: String, today: Day) async throws(DossierError) {
        guard (1...2).contains(months) else { throw DossierError(.usage, "an extension is 1 or 2 further months") }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DossierError(.usage, "an extension needs a reason, which the person must be told", missing: .reason)
        }
        let r = try await request(id)
        if r.status != .extended { try Self.checkTransition(r, to: .extended) }
        guard today <= r.firstDeadline else {
            throw DossierError(.refused, "request \(id): the first month ended on \(r.firstDeadline); an extension must be decided and told within it (Art. 12(3))")
        }
        let total = r.extendedMonths + months
        guard total <= 2 else {
            throw DossierError(.refused, "request \(id) is already extended by \(r.extendedMonths) month(s); the law allows two further months at most")
        }
        let deadline = calendar.deadline(received: r.received, months: 1 + total)
        try await ledger.apply(RequestChange(to: .extended, note: "extended by \(months) month(s): \(reason)",
                                       fields: ["extended_months": String(total), "deadline": deadline.description,
                                                "extension_reason": [r.extensionReason, reason].compactMap { $0 }.joined(separator: "; ")],
                                       audit: [("months", String(months)), ("deadline", deadline.description)]),
                         to: id, expecting: [r.status], at: now())
    }

    /// Art. 12(4)/(5): a refusal needs its reason.
    public func refuse(_ id: String, reason: String, today: Day) async throws(DossierError) {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DossierError(.usage, "a refusal needs a reason, which the person must be told", missing: .reason)
        }
        try await change(id, to: .refused, note: "refused: \(reason)", fields: ["refusal_reason": reason], audit: [("on", today.description)])
    }

    public func withdraw(_ id: String, reason: String?, today: Day) async throws(DossierError) {
        try await change(id, to: .withdrawn, note: reason.map { "withdrawn: \($0)" } ?? "withdrawn by the person",
                   fields: ["withdrawal_reason": reason], audit: [("on", today.description)])
    }

    // MARK: Copies

    /// The fee of the next copy (Art. 15(3)): the tariff's fixed part plus its per-megabyte part on
    /// the size of the previous copy, rounded to the cent.
    public func quote(_ r: RequestRecord) -> (fee: Decimal, currency: String) {
        guard let fees = map?.fees else { return (0, "XXX") }
        var fee = fees.furtherCopy
        if let perMB = fees.perMegabyte, let previous = r.deliveries.last {
            fee += perMB * Decimal(previous.size) / Decimal(1_000_000)
        }
        return (Self.cents(fee), fees.currency)
    }

    /// Rounded to the cent, halves up.
    static func cents(_ d: Decimal) -> Decimal {
        var value = d
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 2, .plain)
        return rounded
    }

    /// `12.5` → `"12.50"`.
    public static func amount(_ d: Decimal) -> String {
        let text = NSDecimalNumber(decimal: cents(d)).stringValue
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        return decimals >= 2 ? text : text + String(repeating: "0", count: 2 - decimals)
    }

    /// Produces copy 1 of a verified request, free of charge.
    public func fulfil(_ id: String, packing: Packing, today: Day) async throws(DossierError) -> Delivery {
        try await fulfil(try await request(id), packing: packing, using: nil)
    }

    /// Copy 1 of `r` as it stands in the ledger now, over `sources` when a run opened them.
    func fulfil(_ r: RequestRecord, packing: Packing, using sources: OpenedSources?) async throws(DossierError) -> Delivery {
        try checkDeliverable(r)
        if !r.deliveries.isEmpty {
            throw DossierError(.refused, "request \(r.id) is already fulfilled (copy \(r.deliveries.count) delivered); a further copy has a fee",
                               next: .furtherCopy(request: r.id))
        }
        return try await deliver(r, packing: packing, fee: 0, currency: quote(r).currency, using: sources)
    }

    /// Produces a further copy at the quoted fee. Returns nil, producing nothing, unless the fee is accepted.
    public func copy(_ id: String, packing: Packing, acceptFee: Bool, today: Day) async throws(DossierError) -> (quote: (fee: Decimal, currency: String), delivery: Delivery?) {
        let r = try await request(id)
        guard !r.deliveries.isEmpty else {
            throw DossierError(.refused, "request \(id) has no first copy yet; the first copy is free of charge", next: .fulfil(request: id))
        }
        try checkDeliverable(r)
        let q = quote(r)
        guard acceptFee else { return (q, nil) }
        return (q, try await deliver(r, packing: packing, fee: q.fee, currency: q.currency))
    }

    /// Refuses a request that is refused or withdrawn: no data leaves for it, not even for review.
    func checkNotClosed(_ r: RequestRecord) throws(DossierError) {
        if r.status == .refused || r.status == .withdrawn {
            throw DossierError(.refused, "request \(r.id) is \(r.status.rawValue); no data leaves for it")
        }
    }

    func checkDeliverable(_ r: RequestRecord) throws(DossierError) {
        try checkNotClosed(r)
        guard r.isVerified else {
            throw DossierError(.refused, "request \(r.id) is not verified: no data leaves before the requester's identity is checked",
                               next: .verify(request: r.id))
        }
        try checkApproved(r)
    }

    /// Claims the request, produces the archive, records the delivery: either both exist afterwards, or neither.
    func deliver(_ r: RequestRecord, packing: Packing, fee: Decimal, currency: String,
                 using sources: OpenedSources? = nil, claimed: Claim? = nil) async throws(DossierError) -> Delivery {
        let format = packing.format
        let map = try requireMap("producing a copy")
        let archives: URL
        do throws(DossierError) { archives = try archiveFolder() } catch {
            if let claimed { try? await ledger.release(claimed) }
            throw error
        }
        let claim: Claim
        if let claimed { claim = claimed } else { claim = try await ledger.claim(r.id, at: now()) }
        // A lease is renewed while the copy is produced; a claim lost meanwhile makes the delivery fail.
        let renewal = renewing(claim)
        defer { renewal?.cancel() }
        do throws(DossierError) {
            let current = try await request(r.id)
            let copy = current.deliveries.count + 1
            guard copy == r.deliveries.count + 1 else {
                throw DossierError(.refused, "request \(r.id) received copy \(copy - 1) from another process meanwhile")
            }
            // Only a claim taken over from a process that is gone can find files of an unfinished
            // copy: the folder is listed then, not for every copy (it holds every copy delivered).
            if claim.recovered { try removeLeftovers(of: current, in: archives) }
            let name = "dossier-\(r.id)-copy\(copy).\(format.fileExtension)"
            var export = ExportRequest(identifiers: current.identifiers.map { ($0.kind, $0.value) }, format: format,
                                       outputDirectory: archives, requestID: r.id, asOf: now(), language: current.language,
                                       isDelivery: true, kind: current.kind)
            export.copy = copy
            export.archiveName = name
            export.passphrase = packing.passphrase
            export.csvBOM = packing.csvBOM
            export.splitSize = packing.splitSize
            export.publish = false
            let expiresOn = (packing.expires ?? map.ledger.expiresAfter).map { $0.after(Day(utc: now())) }
            export.expiresOn = expiresOn
            // What the approval released: the reviewed bundle, with the fields its review withheld.
            if current.isApproved { export.redactions = ReviewRedactions(json: current.approvedRedactions) }
            let exporter = Exporter(map: map, indexFolder: indexFolder, logger: logger)
            let result: ExportResult
            if let sources { result = try await exporter.export(export, using: sources) } else { result = try await exporter.export(export) }
            let finished = result.unpublished
            guard let archive = result.archive, !finished.isEmpty, result.partDigests.count == finished.count else {
                throw DossierError(.internal, "the export wrote no archive")
            }
            do throws(DossierError) { try checkApproved(current); try checkApprovedData(current, fingerprint: result.fingerprint) } catch {
                for f in finished { f.discard() }
                throw error
            }
            let parts = zip(finished, result.partDigests).map { DeliveryPart(path: $0.destination.path, sha256: $1.sha256, size: $1.size) }
            var delivery = Delivery(copy: copy, at: now(), fee: Self.amount(fee), currency: currency, sha256: parts[0].sha256, size: parts[0].size,
                                    format: format.rawValue, path: archive.path, fingerprint: result.fingerprint, expiresOn: expiresOn)
            if parts.count > 1 {
                delivery.parts = parts
                delivery.sha256 = Hex.string(SHA256.hash(data: Data(DeliveryPart.list(parts).utf8)))
                delivery.size = parts.reduce(0) { $0 + $1.size }
            }
            delivery.identifiers = result.identifiers
            let lateDays = current.daysLate(at: delivery.at)
            if copy == 1, lateDays > 0 { delivery.late = (current.deadline, lateDays) }
            let lateNote = delivery.late.map { ", \($0.days) day(s) after the deadline \($0.deadline)" } ?? ""
            // The archives are renamed into place inside the transaction that records them, just before
            // the commit: a crash leaves both or neither, but for the instant of the commit itself.
            // A signal waits for this commit: the archives and their row exist both or neither.
            Scratch.beginCommit()
            defer { Scratch.endCommit() }
            do {
                try await ledger.recordDelivery(delivery, for: claim, note: "copy \(copy) delivered (fee \(Self.amount(fee)) \(currency))\(lateNote)",
                                          beforeCommit: { () throws(DossierError) in for f in finished { try f.publish() } })
            } catch {
                for f in finished { f.discard() }
                if (try? await request(r.id).deliveries.contains { $0.copy == copy }) != true {
                    for f in finished { unlink(f.destination.path) }
                }
                throw error
            }
            return delivery
        } catch {
            try? await ledger.release(claim)
            throw error
        }
    }

    /// Renews the claim's lease until the task is cancelled (nil when the ledger's claims do not expire).
    func renewing(_ claim: Claim) -> Task<Void, Never>? {
        ledger.renewalInterval.map { interval in
            Task { [ledger, logger] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    do throws(DossierError) { try await ledger.renew(claim) } catch {
                        logger.warning("the claim could not be renewed", metadata: ["request": "\(claim.requestID)"])
                    }
                }
            }
        }
    }

    /// What a process killed while producing a copy may have left: a staging folder, a partial
    /// archive, or a finished archive whose delivery was never recorded. Runs under a claim taken
    /// over from that process (`Claim.recovered`).
    func removeLeftovers(of r: RequestRecord, in archives: URL) throws(DossierError) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: archives.path) else { return }
        let delivered = Set(r.deliveries.flatMap { $0.paths.map { URL(fileURLWithPath: $0).lastPathComponent } })
        for name in names {
            let stale = name.hasPrefix(".dossier-staging-\(r.id)-")
                || (name.hasPrefix(".dossier-\(r.id)-copy") && name.hasSuffix(".partial"))
                || (name.hasPrefix("dossier-\(r.id)-copy") && !delivered.contains(name))
            if stale {
                logger.warning("removing what an interrupted run left", metadata: ["request": "\(r.id)", "file": "\(name)"])
                try? fm.removeItem(at: archives.appendingPathComponent(name))
            }
        }
    }

    // MARK: Lists

    public enum Due: Sendable { case overdue, within(days: Int) }

    /// Hands each listed request to `body`, in id order, one at a time (a listing of any length
    /// holds one page of the ledger).
    public func forEachListed(statuses: Set<RequestStatus>?, due: Due?, today: Day,
                              _ body: (RequestRecord) throws(DossierError) -> Void) async throws(DossierError) {
        // Only open requests can be due, and the deadline is asked of the ledger: the others are
        // not read at all.
        let open = Set(RequestStatus.allCases.filter(\.isOpen))
        let wanted = due == nil ? statuses : (statuses ?? open).intersection(open)
        let deadlines: ClosedRange<Day>?
        switch due {
        case nil: deadlines = nil
        case .overdue?: deadlines = Day.earliest...today.adding(days: -1)
        case .within(let days)?: deadlines = today...today.adding(days: days)
        }
        try await ledger.forEachRequest(statuses: wanted, deadlines: deadlines, body)
    }

}
