import DossierModel
import Foundation

/// Where a request stands. Transitions that make no sense are refused by `canMove(to:)`.
public enum RequestStatus: String, Sendable, CaseIterable {
    case received, verified, extended, fulfilled, refused, withdrawn

    /// The statuses a request may move to from this one.
    public var next: Set<RequestStatus> {
        switch self {
        case .received: return [.verified, .extended, .refused, .withdrawn]
        case .verified: return [.extended, .fulfilled, .refused, .withdrawn]
        case .extended: return [.verified, .fulfilled, .refused, .withdrawn]
        case .fulfilled, .refused, .withdrawn: return []
        }
    }

    public func canMove(to status: RequestStatus) -> Bool { next.contains(status) }
    public var isOpen: Bool {
        switch self {
        case .received, .verified, .extended: return true
        case .fulfilled, .refused, .withdrawn: return false
        }
    }
}

/// A copy delivered for a request (Art. 15(3)).
public struct Delivery: Sendable {
    public var copy: Int
    public var at: Date
    /// Decimal text with two places (`"25.10"`).
    public var fee: String
    public var currency: String
    public var sha256: String
    public var size: Int
    public var format: String
    public var path: String
    /// The bundle's content fingerprint (data files only: no timestamps, no ids).
    public var fingerprint: String
    /// The last day the archive is kept (`dossier purge` deletes it afterwards); nil: kept.
    public var expiresOn: Day?
    /// When `dossier purge` deleted the archive; the row, its hash and this date stay.
    public var purgedAt: Date?
    /// Every identifier the copy's identity resolution found (given ones included): a later request
    /// by any of them is the same subject (Art. 12(5)). Written with the delivery; not read back.
    public var identifiers: [Identifier] = []
    /// The archives of a copy split into parts (`--split-size`), in order; empty for one archive.
    /// Then `path` is part 1's, `size` the parts' total, and `sha256` the hash of `partsList`.
    public var parts: [DeliveryPart] = []
    /// Every archive file of the copy: the parts, or the one archive.
    public var paths: [String] { parts.isEmpty ? [path] : parts.map(\.path) }
    /// A first copy delivered after the request's deadline: that deadline, and how many days late.
    /// Recorded in the delivery's history note and audit row; not read back (`RequestRecord.lateness`
    /// computes it from the ledger's rows).
    public var late: (deadline: Day, days: Int)? = nil

    /// The audit row's detail of this delivery: no personal data.
    public var auditDetail: [(String, String)] {
        var detail = [("copy", String(copy)), ("fee", fee), ("currency", currency), ("sha256", sha256),
                      ("size", String(size)), ("format", format), ("fingerprint", fingerprint)]
        if let expiresOn { detail.append(("expires_on", expiresOn.description)) }
        if !parts.isEmpty { detail.append(("parts", String(parts.count))) }
        if let late { detail += [("deadline", late.deadline.description), ("late_days", String(late.days))] }
        return detail
    }

    public init(copy: Int, at: Date, fee: String, currency: String, sha256: String, size: Int, format: String, path: String, fingerprint: String,
                expiresOn: Day? = nil, purgedAt: Date? = nil) {
        self.copy = copy; self.at = at; self.fee = fee; self.currency = currency; self.sha256 = sha256
        self.size = size; self.format = format; self.path = path; self.fingerprint = fingerprint
        self.expiresOn = expiresOn; self.purgedAt = purgedAt
    }
}

/// One archive of a copy split into parts.
public struct DeliveryPart: Sendable, Equatable {
    public var path: String
    public var sha256: String
    public var size: Int
    public init(path: String, sha256: String, size: Int) { self.path = path; self.sha256 = sha256; self.size = size }

    /// The parts as `sha256sum -c` reads them in the archives folder (`<hash>  <file name>` lines):
    /// a split copy's `sha256` is this text's hash.
    public static func list(_ parts: [DeliveryPart]) -> String {
        parts.map { "\($0.sha256)  \(URL(fileURLWithPath: $0.path).lastPathComponent)\n" }.joined()
    }

    /// The parts as the ledger stores them: a JSON array of `{"path", "sha256", "size"}`.
    public static func json(_ parts: [DeliveryPart]) -> String? {
        guard !parts.isEmpty else { return nil }
        return Value.array(parts.map { p in .object(Fields([("path", .string(p.path)), ("sha256", .string(p.sha256)), ("size", .number(String(p.size)))])) }).jsonText()
    }

    /// Reads what `json` wrote; empty for nil or anything else.
    public static func parse(_ text: String?) -> [DeliveryPart] {
        guard let text, case .array(let items)? = try? JSON.parse(text) else { return [] }
        return items.compactMap { item in
            guard case .object(let f) = item, let path = f["path"]?.scalarText, let sha = f["sha256"]?.scalarText,
                  let size = f["size"]?.scalarText.flatMap({ Int($0) }) else { return nil }
            return DeliveryPart(path: path, sha256: sha, size: size)
        }
    }
}

/// A copy sent straight to another controller (Art. 20(2)), as `request transmit` recorded it:
/// accepted, or the last thing that went wrong.
public struct Transmission: Sendable {
    public var copy: Int
    public var at: Date
    /// The receiver's address without its query: `https://import.example.com/v1/archives`.
    public var destination: String
    /// Sent with every attempt; the same for every retry of this copy to this destination.
    public var idempotencyKey: String
    /// True when the receiver answered 2xx.
    public var accepted: Bool
    /// The receiver's last HTTP status; nil when it never answered.
    public var status: Int?
    public var responseSHA256: String?
    public var responseSize: Int?
    /// The start of the answer (4 KiB at most) when it is text.
    public var response: String?
    public var attempts: Int
    /// Why it failed, in one sentence; nil when accepted.
    public var error: String?
    public init(copy: Int, at: Date, destination: String, idempotencyKey: String, accepted: Bool, status: Int?,
                responseSHA256: String?, responseSize: Int?, response: String?, attempts: Int, error: String?) {
        self.copy = copy; self.at = at; self.destination = destination; self.idempotencyKey = idempotencyKey
        self.accepted = accepted; self.status = status; self.responseSHA256 = responseSHA256; self.responseSize = responseSize
        self.response = response; self.attempts = attempts; self.error = error
    }

    /// The destination's host: all the audit trail keeps of the address (a path may name a person).
    public var host: String { URL(string: destination)?.host ?? "" }

    /// The audit row's detail: no personal data (copy, host, status, hashes, key, attempts).
    public var auditDetail: [(String, String)] {
        [("copy", String(copy)), ("host", host), ("idempotency_key", idempotencyKey), ("attempts", String(attempts))]
            + (status.map { [("status", String($0))] } ?? [])
            + (responseSHA256.map { [("response_sha256", $0)] } ?? [])
    }
}

/// One change in a request's history.
public struct HistoryEvent: Sendable {
    public var at: Date
    public var from: RequestStatus?
    public var to: RequestStatus
    public var note: String?
    public init(at: Date, from: RequestStatus?, to: RequestStatus, note: String?) {
        self.at = at; self.from = from; self.to = to; self.note = note
    }
}

/// A request as the ledger holds it.
public struct RequestRecord: Sendable {
    public var id: String
    public var kind: RequestKind
    public var status: RequestStatus
    public var received: Day
    public var firstDeadline: Day
    public var deadline: Day
    public var extendedMonths: Int
    public var extensionReason: String?
    public var channel: String
    public var language: String
    public var identifiers: [Identifier]
    public var verificationMethod: String?
    public var verifiedBy: String?
    public var verifiedAt: Date?
    public var refusalReason: String?
    public var withdrawalReason: String?
    public var flags: [String]
    /// Evidence for the flags, as JSON values.
    public var evidence: [Value]
    public var deliveries: [Delivery]
    public var history: [HistoryEvent]
    /// The request's id in the system it came from (a ticket, a batch manifest's request_id).
    public var reference: String?
    /// The last review (`request review`): when, and the fingerprint of the bundle it built.
    public var reviewedAt: Date? = nil
    public var reviewedFingerprint: String? = nil
    /// The approval of that review (`request approve`): who, when, and the fingerprint approved.
    public var approvedBy: String? = nil
    public var approvedAt: Date? = nil
    public var approvedFingerprint: String? = nil
    /// The fields the review withheld and why, as JSON (`{"fields": [...], "reason": "..."}`), and
    /// the ones its approval released the copy with.
    public var reviewedRedactions: String? = nil
    public var approvedRedactions: String? = nil
    /// Copies sent to other controllers (`request transmit`), in order, failed attempts included.
    public var transmissions: [Transmission] = []

    public var isVerified: Bool { verifiedAt != nil }
    public var isApproved: Bool { approvedAt != nil }

    /// Days after the deadline that `date` falls on (0 or less: in time).
    public func daysLate(at date: Date) -> Int { Day(utc: date).ordinal - deadline.ordinal }

    /// Where the request stands against its deadline on `today`.
    public func timeliness(today: Day, soon: Int = 7) -> Timeliness {
        if let first = deliveries.first {
            let late = daysLate(at: first.at)
            return late > 0 ? .answeredLate(days: late) : .answered
        }
        guard status.isOpen else { return .closed }
        let left = deadline.ordinal - today.ordinal
        if left < 0 { return .overdue(days: -left) }
        return left <= soon ? .dueSoon(days: left) : .onTime(days: left)
    }
}

/// A request against its deadline (Art. 12(3)): open and overdue, due soon or on time; answered
/// (copy 1 delivered) on time or late; or closed without a copy (refused, withdrawn).
public enum Timeliness: Sendable, Equatable {
    /// Open; the deadline passed `days` days ago.
    case overdue(days: Int)
    /// Open; due in `days` days (0: today), within the warning window.
    case dueSoon(days: Int)
    /// Open; due in `days` days.
    case onTime(days: Int)
    /// Copy 1 was delivered by the deadline.
    case answered
    /// Copy 1 was delivered `days` days after the deadline.
    case answeredLate(days: Int)
    /// Refused or withdrawn.
    case closed

    /// `overdue`, `due_soon`, `on_time`, `answered`, `answered_late`, `closed`.
    public var name: String {
        switch self {
        case .overdue: return "overdue"
        case .dueSoon: return "due_soon"
        case .onTime: return "on_time"
        case .answered: return "answered"
        case .answeredLate: return "answered_late"
        case .closed: return "closed"
        }
    }

    /// The days it counts (late, overdue or left), nil for answered on time and closed.
    public var days: Int? {
        switch self {
        case .overdue(let d), .dueSoon(let d), .onTime(let d), .answeredLate(let d): return d
        case .answered, .closed: return nil
        }
    }
}

/// What `request open` hands to the ledger.
public struct NewRequest: Sendable {
    public var kind: RequestKind
    public var received: Day
    public var firstDeadline: Day
    public var channel: String
    public var language: String
    public var identifiers: [Identifier]
    public var flags: [String]
    public var evidence: [Value]
    /// The request's id in the system it came from; unique in the ledger.
    public var reference: String?
    public init(kind: RequestKind, received: Day, firstDeadline: Day, channel: String, language: String,
                identifiers: [Identifier], flags: [String], evidence: [Value], reference: String? = nil) {
        self.kind = kind; self.received = received; self.firstDeadline = firstDeadline; self.channel = channel
        self.language = language; self.identifiers = identifiers; self.flags = flags; self.evidence = evidence
        self.reference = reference
    }
}

/// A change of a request's state, applied with its history row and audit row in one transaction.
public struct RequestChange: Sendable {
    public var to: RequestStatus
    public var note: String?
    /// Column updates, by name (`verification_method`, `deadline`, …).
    public var fields: [String: String?]
    /// The audit detail: no personal data (statuses, counts, dates).
    public var audit: [(String, String)]
    /// The audit row's action when it is not the new status (`reviewed`, `approved`: the status stays).
    public var action: String?
    public init(to: RequestStatus, note: String?, fields: [String: String?] = [:], audit: [(String, String)] = [], action: String? = nil) {
        self.to = to; self.note = note; self.fields = fields; self.audit = audit; self.action = action
    }
}

/// A process's hold on a request while it produces a copy.
public struct Claim: Sendable {
    public let requestID: String
    public let token: String
    /// True when the claim was taken over from a process that is gone (its lease expired, or its
    /// process ended without releasing it): only then can files of an unfinished copy be left in
    /// the archives folder, since a process that fails releases its claim after removing its own.
    public var recovered: Bool

    public init(requestID: String, token: String, recovered: Bool = false) {
        self.requestID = requestID; self.token = token; self.recovered = recovered
    }
}

/// The outcome of `verifyAudit`.
public struct AuditVerdict: Sendable {
    public var rows: Int
    /// The first row that breaks the chain, and why; nil when intact.
    public var firstBreak: (seq: Int, reason: String)?
}
