import DossierModel
import Foundation
import GRDB

/// The ledger in one SQLite file (mode 0600), with versioned migrations (GRDB's `DatabaseMigrator`).
///
/// Every change runs in an IMMEDIATE transaction, so that processes sharing the file serialise
/// their writes; the audit table refuses UPDATE and DELETE by trigger, and its hash chain shows any
/// edit made around the triggers.
public final class SQLiteLedger: Ledger {
    private let queue: DatabaseQueue
    public let path: String

    public init(path: String) throws(DossierError) {
        self.path = path
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw DossierError(.outputUnavailable, "cannot create the ledger's folder", at: SourceLocation(file: path))
        }
        _ = Scratch.createPrivateFile(url)  // a new ledger is private from its first byte; an existing one is kept
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "dossier.ledger"
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
            try Self.migrator.migrate(queue)
        } catch {
            throw DossierError(.outputUnavailable, "cannot open the ledger (\(Self.reason(error)))", at: SourceLocation(file: path))
        }
        chmod(path, 0o600)
    }

    static func reason(_ error: any Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "SQLite error \(e.resultCode.rawValue)" }
        if let e = error as? DossierError { return e.message }
        return "\(error)"
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: requests, deliveries, history, claims, audit") { db in
            try db.execute(sql: """
                CREATE TABLE requests (
                    id TEXT PRIMARY KEY, year INTEGER NOT NULL, seq INTEGER NOT NULL,
                    kind TEXT NOT NULL, status TEXT NOT NULL, received TEXT NOT NULL,
                    first_deadline TEXT NOT NULL, deadline TEXT NOT NULL, extended_months INTEGER NOT NULL DEFAULT 0,
                    extension_reason TEXT, channel TEXT NOT NULL, language TEXT NOT NULL,
                    verification_method TEXT, verified_by TEXT, verified_at TEXT,
                    refusal_reason TEXT, withdrawal_reason TEXT,
                    flags TEXT NOT NULL DEFAULT '[]', evidence TEXT NOT NULL DEFAULT '[]',
                    created_at TEXT NOT NULL, UNIQUE (year, seq));
                CREATE TABLE request_identifiers (
                    request_id TEXT NOT NULL REFERENCES requests(id), kind TEXT NOT NULL, value TEXT NOT NULL,
                    PRIMARY KEY (request_id, kind, value));
                CREATE INDEX request_identifiers_value ON request_identifiers(kind, value);
                CREATE TABLE deliveries (
                    request_id TEXT NOT NULL REFERENCES requests(id), copy INTEGER NOT NULL, at TEXT NOT NULL,
                    fee TEXT NOT NULL, currency TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                    format TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
                    PRIMARY KEY (request_id, copy));
                CREATE TABLE history (
                    id INTEGER PRIMARY KEY, request_id TEXT NOT NULL REFERENCES requests(id), at TEXT NOT NULL,
                    from_status TEXT, to_status TEXT NOT NULL, note TEXT);
                CREATE TABLE claims (
                    request_id TEXT PRIMARY KEY, token TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
                    started_at TEXT NOT NULL);
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, request_id TEXT, action TEXT NOT NULL,
                    detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
                """)
        }
        m.registerMigration("v2: a request's reference in the system it came from") { db in
            try db.execute(sql: """
                ALTER TABLE requests ADD COLUMN reference TEXT;
                CREATE UNIQUE INDEX requests_reference ON requests(reference) WHERE reference IS NOT NULL;
                """)
        }
        m.registerMigration("v3: review before release") { db in
            try db.execute(sql: """
                ALTER TABLE requests ADD COLUMN reviewed_at TEXT;
                ALTER TABLE requests ADD COLUMN reviewed_fingerprint TEXT;
                ALTER TABLE requests ADD COLUMN approved_by TEXT;
                ALTER TABLE requests ADD COLUMN approved_at TEXT;
                ALTER TABLE requests ADD COLUMN approved_fingerprint TEXT;
                """)
        }
        m.registerMigration("v4: archives that expire") { db in
            try db.execute(sql: """
                ALTER TABLE deliveries ADD COLUMN expires_on TEXT;
                ALTER TABLE deliveries ADD COLUMN purged_at TEXT;
                """)
        }
        m.registerMigration("v5: the identifiers a delivery's resolution found") { db in
            try db.execute(sql: """
                CREATE TABLE delivery_identifiers (
                    request_id TEXT NOT NULL, copy INTEGER NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
                    PRIMARY KEY (request_id, copy, kind, value), FOREIGN KEY (request_id, copy) REFERENCES deliveries(request_id, copy));
                CREATE INDEX delivery_identifiers_value ON delivery_identifiers(kind, value);
                """)
        }
        m.registerMigration("v6: fields withheld at review") { db in
            try db.execute(sql: """
                ALTER TABLE requests ADD COLUMN reviewed_redactions TEXT;
                ALTER TABLE requests ADD COLUMN approved_redactions TEXT;
                """)
        }
        m.registerMigration("v7: copies split into parts") { db in
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN parts TEXT")
        }
        m.registerMigration("v8: copies sent to other controllers") { db in
            try db.execute(sql: """
                CREATE TABLE transmissions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, copy INTEGER NOT NULL, at TEXT NOT NULL,
                    destination TEXT NOT NULL, idempotency_key TEXT NOT NULL, accepted INTEGER NOT NULL, status INTEGER,
                    response_sha256 TEXT, response_size INTEGER, response TEXT, attempts INTEGER NOT NULL, error TEXT,
                    FOREIGN KEY (request_id, copy) REFERENCES deliveries(request_id, copy));
                CREATE INDEX transmissions_request ON transmissions(request_id);
                """)
        }
        m.registerMigration("v9: a request's history found by its id") { db in
            // Without it, reading one request scanned the whole history: opening 100,000 requests
            // one after another grew with the square of their number.
            try db.execute(sql: "CREATE INDEX history_request ON history(request_id, id)")
        }
        return m
    }

    // MARK: Writing

    private func write<T>(_ what: String, _ body: (Database) throws -> T) throws(DossierError) -> T {
        do {
            return try queue.write(body)
        } catch let error as DossierError {
            throw error
        } catch {
            throw DossierError(.outputWrite, "cannot \(what) in the ledger (\(Self.reason(error)))", at: SourceLocation(file: path))
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws(DossierError) -> T {
        do {
            return try queue.read(body)
        } catch let error as DossierError {
            throw error
        } catch {
            throw DossierError(.outputWrite, "cannot read the ledger (\(Self.reason(error)))", at: SourceLocation(file: path))
        }
    }

    static func timestamp(_ date: Date) -> String { AuditChain.timestamp(date) }

    static func date(_ text: String) -> Date { AuditChain.date(text) }

    /// Appends a row to the audit trail, chained to the previous one.
    static func appendAudit(_ db: Database, at: Date, request: String?, action: String, detail: [(String, String)]) throws {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let seq = (last?["seq"] as Int? ?? 0) + 1
        let prev: String = last?["hash"] ?? AuditChain.genesis
        let detailText = AuditChain.detailText(detail)
        let at = timestamp(at)
        let hash = AuditChain.hash(seq: seq, at: at, request: request, action: action, detail: detailText, prev: prev)
        try db.execute(sql: "INSERT INTO audit (seq, at, request_id, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [seq, at, request, action, detailText, prev, hash])
    }

    public func createRequest(_ draft: NewRequest, at: Date) throws(DossierError) -> RequestRecord {
        let id: String = try write("open the request") { db in
            let year = draft.received.year
            let seq = (try Int.fetchOne(db, sql: "SELECT max(seq) FROM requests WHERE year = ?", arguments: [year]) ?? 0) + 1
            let id = "DSR-\(year)-\(String(format: "%04d", seq))"
            let flags = Value.array(draft.flags.map { .string($0) }).jsonText()
            let evidence = Value.array(draft.evidence).jsonText()
            if let reference = draft.reference,
               let existing = try String.fetchOne(db, sql: "SELECT id FROM requests WHERE reference = ?", arguments: [reference]) {
                throw DossierError(.refused, "a request with the reference '\(reference)' is already in the ledger: \(existing)")
            }
            try db.execute(sql: """
                INSERT INTO requests (id, year, seq, kind, status, received, first_deadline, deadline, channel, language, flags, evidence, created_at, reference)
                VALUES (?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, year, seq, draft.kind.rawValue, draft.received.description, draft.firstDeadline.description,
                                 draft.firstDeadline.description, draft.channel, draft.language, flags, evidence, Self.timestamp(at),
                                 draft.reference])
            for identifier in draft.identifiers {
                try db.execute(sql: "INSERT INTO request_identifiers (request_id, kind, value) VALUES (?, ?, ?)",
                               arguments: [id, identifier.kind.name, identifier.value])
            }
            try db.execute(sql: "INSERT INTO history (request_id, at, from_status, to_status, note) VALUES (?, ?, NULL, 'received', ?)",
                           arguments: [id, Self.timestamp(at), "received via \(draft.channel)"])
            var detail = [("kind", draft.kind.rawValue), ("received", draft.received.description),
                          ("deadline", draft.firstDeadline.description), ("identifiers", String(draft.identifiers.count))]
            if !draft.flags.isEmpty { detail.append(("flags", draft.flags.joined(separator: ","))) }
            if let reference = draft.reference { detail.append(("reference", reference)) }
            try Self.appendAudit(db, at: at, request: id, action: "opened", detail: detail)
            return id
        }
        guard let record = try request(id) else { throw DossierError(.internal, "the new request \(id) cannot be read back") }
        return record
    }

    public func apply(_ change: RequestChange, to id: String, expecting expected: Set<RequestStatus>, at: Date) throws(DossierError) {
        try write("change the request") { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM requests WHERE id = ?", arguments: [id]) else {
                throw DossierError(.usage, "there is no request \(id) in the ledger")
            }
            guard let current = RequestStatus(rawValue: status), expected.contains(current) else {
                throw DossierError(.refused, "request \(id) is \(status) now; it changed meanwhile")
            }
            var sets = ["status = ?"]
            var args: [(any DatabaseValueConvertible)?] = [change.to.rawValue]
            for (column, value) in change.fields.sorted(by: { $0.key < $1.key }) {
                sets.append("\(column) = ?")
                args.append(value)
            }
            args.append(id)
            try db.execute(sql: "UPDATE requests SET \(sets.joined(separator: ", ")) WHERE id = ?", arguments: StatementArguments(args))
            try db.execute(sql: "INSERT INTO history (request_id, at, from_status, to_status, note) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, Self.timestamp(at), status, change.to.rawValue, change.note])
            try Self.appendAudit(db, at: at, request: id, action: change.action ?? change.to.rawValue,
                                 detail: [("from", status)] + change.audit)
        }
    }

    // MARK: Claims

    static var hostName: String { ProcessInfo.processInfo.hostName }

    public func claim(_ id: String, at: Date) throws(DossierError) -> Claim {
        let token = UUID().uuidString
        let recovered: Bool = try write("claim the request") { db in
            var recovered = false
            if let row = try Row.fetchOne(db, sql: "SELECT pid, host, started_at FROM claims WHERE request_id = ?", arguments: [id]) {
                let pid: Int32 = row["pid"], host: String = row["host"]
                let alive = host != Self.hostName || kill(pid, 0) == 0 || errno != ESRCH
                if alive {
                    throw DossierError(.busy, "request \(id) is being fulfilled by another process (pid \(pid) on \(host)) since \(row["started_at"] as String); try again when it ends")
                }
                try db.execute(sql: "DELETE FROM claims WHERE request_id = ?", arguments: [id])
                try Self.appendAudit(db, at: at, request: id, action: "claim_recovered", detail: [("pid", String(pid))])
                recovered = true
            }
            try db.execute(sql: "INSERT INTO claims (request_id, token, pid, host, started_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, token, ProcessInfo.processInfo.processIdentifier, Self.hostName, Self.timestamp(at)])
            return recovered
        }
        return Claim(requestID: id, token: token, recovered: recovered)
    }

    public func claimNext(at: Date, excluding: Set<String>, approvedOnly: Bool) throws(DossierError) -> Claim? {
        let token = UUID().uuidString
        let taken: (id: String, recovered: Bool)? = try write("claim the next request") { db in
            let candidates = try String.fetchAll(db, sql: """
                SELECT r.id FROM requests r
                WHERE r.status IN ('verified', 'extended') AND r.verified_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id)
                  AND (? = 0 OR r.approved_at IS NOT NULL)
                ORDER BY r.deadline, r.id
                """, arguments: [approvedOnly ? 1 : 0])
            for id in candidates where !excluding.contains(id) {
                var recovered = false
                if let row = try Row.fetchOne(db, sql: "SELECT pid, host FROM claims WHERE request_id = ?", arguments: [id]) {
                    let pid: Int32 = row["pid"], host: String = row["host"]
                    if host != Self.hostName || kill(pid, 0) == 0 || errno != ESRCH { continue }
                    try db.execute(sql: "DELETE FROM claims WHERE request_id = ?", arguments: [id])
                    try Self.appendAudit(db, at: at, request: id, action: "claim_recovered", detail: [("pid", String(pid))])
                    recovered = true
                }
                try db.execute(sql: "INSERT INTO claims (request_id, token, pid, host, started_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [id, token, ProcessInfo.processInfo.processIdentifier, Self.hostName, Self.timestamp(at)])
                return (id, recovered)
            }
            return nil
        }
        return taken.map { Claim(requestID: $0.id, token: token, recovered: $0.recovered) }
    }

    public func release(_ claim: Claim) throws(DossierError) {
        try write("release the request") { db in
            try db.execute(sql: "DELETE FROM claims WHERE request_id = ? AND token = ?", arguments: [claim.requestID, claim.token])
        }
    }

    /// A SQLite claim does not expire: it lasts while its process lives (same host).
    public func renew(_ claim: Claim) throws(DossierError) {}
    public var renewalInterval: Duration? { nil }
    public func close() async {}

    public func recordDelivery(_ d: Delivery, for claim: Claim, note: String?,
                               beforeCommit: () throws(DossierError) -> Void) throws(DossierError) {
        try write("record the delivery") { db in
            guard try String.fetchOne(db, sql: "SELECT token FROM claims WHERE request_id = ?", arguments: [claim.requestID]) == claim.token else {
                throw DossierError(.busy, "request \(claim.requestID) was taken over by another process; this copy is not recorded")
            }
            let status = try String.fetchOne(db, sql: "SELECT status FROM requests WHERE id = ?", arguments: [claim.requestID]) ?? ""
            try db.execute(sql: """
                INSERT INTO deliveries (request_id, copy, at, fee, currency, sha256, size, format, path, fingerprint, expires_on, parts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [claim.requestID, d.copy, Self.timestamp(d.at), d.fee, d.currency, d.sha256, d.size, d.format, d.path,
                                 d.fingerprint, d.expiresOn?.description, DeliveryPart.json(d.parts)])
            for id in Set(d.identifiers) {
                try db.execute(sql: "INSERT INTO delivery_identifiers (request_id, copy, kind, value) VALUES (?, ?, ?, ?)",
                               arguments: [claim.requestID, d.copy, id.kind.name, id.value])
            }
            if status != RequestStatus.fulfilled.rawValue {
                try db.execute(sql: "UPDATE requests SET status = 'fulfilled' WHERE id = ?", arguments: [claim.requestID])
            }
            try db.execute(sql: "INSERT INTO history (request_id, at, from_status, to_status, note) VALUES (?, ?, ?, 'fulfilled', ?)",
                           arguments: [claim.requestID, Self.timestamp(d.at), status, note])
            try Self.appendAudit(db, at: d.at, request: claim.requestID, action: "delivered", detail: d.auditDetail)
            try db.execute(sql: "DELETE FROM claims WHERE request_id = ?", arguments: [claim.requestID])
            try beforeCommit()
        }
    }

    // MARK: Reading

    public func request(_ id: String) throws(DossierError) -> RequestRecord? {
        try read { db in try Self.load(db, id: id, withHistory: true) }
    }

    public func request(reference: String) throws(DossierError) -> RequestRecord? {
        try read { db in
            guard let id = try String.fetchOne(db, sql: "SELECT id FROM requests WHERE reference = ?", arguments: [reference]) else { return nil }
            return try Self.load(db, id: id, withHistory: false)
        }
    }

    public func forEachRequest(statuses: Set<RequestStatus>?, deadlines: ClosedRange<Day>?,
                               _ body: (RequestRecord) throws(DossierError) -> Void) throws(DossierError) {
        let wanted = statuses.map { $0.map(\.rawValue).sorted() }
        if wanted?.isEmpty == true { return }
        var failure: DossierError?
        // One snapshot, read a page of requests at a time (keyset on the id's year and sequence), each
        // page's rows of the other tables by one query per table: memory holds one page, whatever
        // the ledger's size.
        try read { db in
            var after: (year: Int, seq: Int)?
            while true {
                var conditions: [String] = []
                var arguments: [(any DatabaseValueConvertible)?] = []
                if let wanted {
                    conditions.append("status IN (\(Array(repeating: "?", count: wanted.count).joined(separator: ", ")))")
                    arguments += wanted.map { $0 }
                }
                if let deadlines {
                    conditions.append("deadline BETWEEN ? AND ?") // ISO dates: as text, in date order
                    arguments += [deadlines.lowerBound.description, deadlines.upperBound.description]
                }
                if let after {
                    // A row value, which SQLite searches in the (year, seq) index; the equivalent
                    // `year > ? OR (year = ? AND seq > ?)` rescans the year on every page.
                    conditions.append("(year, seq) > (?, ?)")
                    arguments += [after.year, after.seq]
                }
                let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
                // The page's requests, then the rows of every other table whose request is on the
                // page (its ids as one JSON array: 500 bound values cost more to pass than to look
                // up; the page's query again as a subquery would scan again), each through a cursor
                // and read by column position (a copied row looks its columns up by a lower-cased
                // name, every time). Every page but the last has the same statements: compiled
                // once, from GRDB's cache.
                let statement = try db.cachedStatement(sql: "SELECT * FROM requests \(filter) ORDER BY year, seq LIMIT \(Self.pageSize)")
                let columns = RequestColumns(statement.columnNames)
                let year = statement.columnNames.firstIndex(of: "year")!, seq = statement.columnNames.firstIndex(of: "seq")!
                var records: [RequestRecord] = []
                records.reserveCapacity(Self.pageSize)
                var last: (year: Int, seq: Int)?
                let rows = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
                while let row = try rows.next() {
                    records.append(Self.record(row, columns: columns, identifiers: [], deliveries: [], transmissions: [], history: []))
                    last = (row[year], row[seq])
                }
                guard let last else { return }
                var idList: [UInt8] = [UInt8(ascii: "[")]
                for (k, record) in records.enumerated() {
                    if k > 0 { idList.append(UInt8(ascii: ",")) }
                    JSON.appendQuoted(record.id, to: &idList)
                }
                idList.append(UInt8(ascii: "]"))
                let pageIDs = StatementArguments([String(decoding: idList, as: UTF8.self)])
                func children<T>(_ table: String, columns: String = "*", order: String, _ make: (Row) -> T) throws -> [String: [T]] {
                    var grouped: [String: [T]] = [:]
                    let statement = try db.cachedStatement(sql: """
                        SELECT \(columns) FROM \(table) WHERE request_id IN (SELECT value FROM json_each(?)) ORDER BY request_id, \(order)
                        """)
                    let cursor = try Row.fetchCursor(statement, arguments: pageIDs)
                    let owner = statement.columnNames.firstIndex(of: "request_id")!
                    while let row = try cursor.next() { grouped[row[owner], default: []].append(make(row)) }
                    return grouped
                }
                let identifiers = try children("request_identifiers", columns: "request_id, kind, value", order: "kind, value") { r in
                    Identifier(kind: IdentifierKind(r[1]), value: r[2])
                }
                let deliveries = try children("deliveries", order: "copy", Self.delivery)
                let transmissions = try children("transmissions", order: "id", Self.transmission)
                for var record in records {
                    record.identifiers = identifiers[record.id] ?? []
                    record.deliveries = deliveries[record.id] ?? []
                    record.transmissions = transmissions[record.id] ?? []
                    do throws(DossierError) { try body(record) } catch { failure = error; return }
                }
                if records.count < Self.pageSize { return }
                after = last
            }
        }
        if let failure { throw failure }
    }

    /// Requests read at a time by `forEachRequest`.
    static let pageSize = 500

    static func identifier(_ r: Row) -> Identifier { Identifier(kind: IdentifierKind(r["kind"]), value: r["value"]) }

    static func transmission(_ t: Row) -> Transmission {
        Transmission(copy: t["copy"], at: date(t["at"]), destination: t["destination"], idempotencyKey: t["idempotency_key"],
                     accepted: (t["accepted"] as Int) != 0, status: t["status"], responseSHA256: t["response_sha256"],
                     responseSize: t["response_size"], response: t["response"], attempts: t["attempts"], error: t["error"])
    }

    static func load(_ db: Database, id: String, withHistory: Bool) throws -> RequestRecord? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE id = ?", arguments: [id]) else { return nil }
        let identifiers = try Row.fetchAll(db, sql: "SELECT kind, value FROM request_identifiers WHERE request_id = ? ORDER BY kind, value", arguments: [id])
            .map(identifier)
        let deliveries = try Row.fetchAll(db, sql: "SELECT * FROM deliveries WHERE request_id = ? ORDER BY copy", arguments: [id]).map(delivery)
        let transmissions = try Row.fetchAll(db, sql: "SELECT * FROM transmissions WHERE request_id = ? ORDER BY id", arguments: [id]).map(transmission)
        let history = withHistory ? try Row.fetchAll(db, sql: "SELECT * FROM history WHERE request_id = ? ORDER BY id", arguments: [id]).map { h in
            HistoryEvent(at: date(h["at"]), from: (h["from_status"] as String?).flatMap(RequestStatus.init(rawValue:)),
                         to: RequestStatus(rawValue: h["to_status"]) ?? .received, note: h["note"])
        } : []
        return record(row, identifiers: identifiers, deliveries: deliveries, transmissions: transmissions, history: history)
    }

    /// Where each column of `requests` stands in a statement's rows: a row read by position costs
    /// nothing, one read by name lower-cases the name and hashes it, every time (a sixth of
    /// `request list`'s time at 100,000 requests).
    struct RequestColumns {
        let id, kind, status, received, firstDeadline, deadline, extendedMonths, extensionReason, channel, language: Int
        let verificationMethod, verifiedBy, verifiedAt, refusalReason, withdrawalReason, flags, evidence, reference: Int
        let reviewedAt, reviewedFingerprint, approvedBy, approvedAt, approvedFingerprint, reviewedRedactions, approvedRedactions: Int

        init<Names: Collection<String>>(_ names: Names) {
            let names = Array(names)
            func at(_ name: String) -> Int {
                guard let i = names.firstIndex(of: name) else { preconditionFailure("the requests table has no column \(name)") }
                return i
            }
            id = at("id"); kind = at("kind"); status = at("status"); received = at("received")
            firstDeadline = at("first_deadline"); deadline = at("deadline"); extendedMonths = at("extended_months")
            extensionReason = at("extension_reason"); channel = at("channel"); language = at("language")
            verificationMethod = at("verification_method"); verifiedBy = at("verified_by"); verifiedAt = at("verified_at")
            refusalReason = at("refusal_reason"); withdrawalReason = at("withdrawal_reason"); flags = at("flags")
            evidence = at("evidence"); reference = at("reference"); reviewedAt = at("reviewed_at")
            reviewedFingerprint = at("reviewed_fingerprint"); approvedBy = at("approved_by"); approvedAt = at("approved_at")
            approvedFingerprint = at("approved_fingerprint"); reviewedRedactions = at("reviewed_redactions")
            approvedRedactions = at("approved_redactions")
        }
    }

    /// A JSON array of the `flags` or `evidence` column; most are `[]`.
    static func jsonArray(_ text: String) -> [Value] {
        if text == "[]" { return [] }
        guard case .array(let items)? = try? JSON.parse(text) else { return [] }
        return items
    }

    /// A request from its row and its rows in the other tables.
    static func record(_ row: Row, identifiers: [Identifier], deliveries: [Delivery], transmissions: [Transmission],
                       history: [HistoryEvent]) -> RequestRecord {
        record(row, columns: RequestColumns(row.columnNames), identifiers: identifiers, deliveries: deliveries,
               transmissions: transmissions, history: history)
    }

    /// The same, with the columns' positions already found.
    static func record(_ row: Row, columns c: RequestColumns, identifiers: [Identifier], deliveries: [Delivery],
                       transmissions: [Transmission], history: [HistoryEvent]) -> RequestRecord {
        let flags = jsonArray(row[c.flags]).compactMap(\.scalarText)
        let evidence = jsonArray(row[c.evidence])
        return RequestRecord(
            id: row[c.id], kind: RequestKind(rawValue: row[c.kind]) ?? .access, status: RequestStatus(rawValue: row[c.status]) ?? .received,
            received: Day(row[c.received] as String)!, firstDeadline: Day(row[c.firstDeadline] as String)!,
            deadline: Day(row[c.deadline] as String)!, extendedMonths: row[c.extendedMonths], extensionReason: row[c.extensionReason],
            channel: row[c.channel], language: row[c.language], identifiers: identifiers,
            verificationMethod: row[c.verificationMethod], verifiedBy: row[c.verifiedBy],
            verifiedAt: (row[c.verifiedAt] as String?).map(date), refusalReason: row[c.refusalReason],
            withdrawalReason: row[c.withdrawalReason], flags: flags, evidence: evidence, deliveries: deliveries, history: history,
            reference: row[c.reference],
            reviewedAt: (row[c.reviewedAt] as String?).map(date), reviewedFingerprint: row[c.reviewedFingerprint],
            approvedBy: row[c.approvedBy], approvedAt: (row[c.approvedAt] as String?).map(date),
            approvedFingerprint: row[c.approvedFingerprint],
            reviewedRedactions: row[c.reviewedRedactions], approvedRedactions: row[c.approvedRedactions], transmissions: transmissions)
    }

    static func delivery(_ r: Row) -> Delivery {
        var d = Delivery(copy: r["copy"], at: date(r["at"]), fee: r["fee"], currency: r["currency"], sha256: r["sha256"],
                 size: r["size"], format: r["format"], path: r["path"], fingerprint: r["fingerprint"],
                 expiresOn: (r["expires_on"] as String?).flatMap(Day.init), purgedAt: (r["purged_at"] as String?).map(date))
        d.parts = DeliveryPart.parse(r["parts"])
        return d
    }

    public func expiredDeliveries(before day: Day) throws(DossierError) -> [(requestID: String, delivery: Delivery)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM deliveries WHERE expires_on IS NOT NULL AND expires_on < ? AND purged_at IS NULL
                ORDER BY expires_on, request_id, copy
                """, arguments: [day.description]).map { (requestID: $0["request_id"] as String, delivery: Self.delivery($0)) }
        }
    }

    public func recordTransmission(_ t: Transmission, requestID: String) throws(DossierError) {
        try write("record the transmission") { db in
            try db.execute(sql: """
                INSERT INTO transmissions (request_id, copy, at, destination, idempotency_key, accepted, status, response_sha256,
                                           response_size, response, attempts, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [requestID, t.copy, Self.timestamp(t.at), t.destination, t.idempotencyKey, t.accepted ? 1 : 0, t.status,
                                 t.responseSHA256, t.responseSize, t.response, t.attempts, t.error])
            try Self.appendAudit(db, at: t.at, request: requestID, action: t.accepted ? "transmitted" : "transmission_failed", detail: t.auditDetail)
        }
    }

        public func markPurged(requestID: String, copy: Int, at: Date, beforeCommit: () throws(DossierError) -> Void) throws(DossierError) -> Bool {
        try write("record the purge") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM deliveries WHERE request_id = ? AND copy = ? AND purged_at IS NULL",
                                             arguments: [requestID, copy]) else { return false }
            let d = Self.delivery(row)
            try db.execute(sql: "UPDATE deliveries SET purged_at = ? WHERE request_id = ? AND copy = ?",
                           arguments: [Self.timestamp(at), requestID, copy])
            try Self.appendAudit(db, at: at, request: requestID, action: "purged", detail: [
                ("copy", String(copy)), ("sha256", d.sha256), ("expires_on", d.expiresOn?.description ?? ""),
            ])
            try beforeCommit()
            return true
        }
    }

    public func deliveries(sharing identifiers: [Identifier], since: Date) throws(DossierError) -> [(requestID: String, delivery: Delivery)] {
        try read { db in
            var result: [(String, Delivery)] = []
            guard !identifiers.isEmpty else { return [] }
            let matchAny = Array(repeating: "(i.kind = ? AND i.value = ?)", count: identifiers.count).joined(separator: " OR ")
            let rows = try Row.fetchAll(db, sql: """
                SELECT DISTINCT d.* FROM deliveries d
                JOIN (SELECT request_id, NULL AS copy, kind, value FROM request_identifiers
                      UNION ALL SELECT request_id, copy, kind, value FROM delivery_identifiers) i
                  ON i.request_id = d.request_id AND (i.copy IS NULL OR i.copy = d.copy)
                WHERE \(matchAny) ORDER BY d.at
                """, arguments: StatementArguments(identifiers.flatMap { [$0.kind.name, $0.value] }))
            for r in rows {
                let d = Self.delivery(r)
                if d.at >= since && !result.contains(where: { $0.0 == r["request_id"] && $0.1.copy == d.copy }) {
                    result.append((r["request_id"], d))
                }
            }
            return result
        }
    }

    static func auditRow(_ r: Row) -> AuditChain.Row {
        AuditChain.Row(seq: r["seq"], at: r["at"], request: r["request_id"], action: r["action"], detail: r["detail"],
                       prevHash: r["prev_hash"], hash: r["hash"])
    }

    public func auditRows(_ body: (Value) throws(DossierError) -> Void) throws(DossierError) {
        var failure: DossierError?
        try read { db in
            let cursor = try Row.fetchCursor(db, sql: "SELECT seq, at, request_id, action, detail, prev_hash, hash FROM audit ORDER BY seq")
            while let r = try cursor.next() {
                do throws(DossierError) { try body(Self.auditRow(r).value) } catch { failure = error; return }
            }
        }
        if let failure { throw failure }
    }

    public func verifyAudit() throws(DossierError) -> AuditVerdict {
        try read { db in
            var checker = AuditChain.Checker()
            let cursor = try Row.fetchCursor(db, sql: "SELECT seq, at, request_id, action, detail, prev_hash, hash FROM audit ORDER BY seq")
            while let r = try cursor.next(), checker.check(Self.auditRow(r)) {}
            return checker.verdict
        }
    }
}

