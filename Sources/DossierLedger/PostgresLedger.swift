import DossierModel
import DossierPostgres
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The ledger in a PostgreSQL database, for several processes on several machines: the same
/// semantics as `SQLiteLedger` behind the same protocol.
///
/// - Every change is one transaction that first takes a transaction-level advisory lock (the ledger's
///   writers serialise, as SQLite's IMMEDIATE transactions do), so request numbers and the audit
///   chain stay gap-free and in order.
/// - A claim is a lease: it expires `leaseSeconds` after it was taken or last renewed, by the
///   database's clock, and an expired lease is taken over by the next claimant (no process ids: the
///   holder may be on another machine). A delivery is recorded only under the claimant's own lease
///   token, and `deliveries (request_id, copy)` is the primary key: the database, not only the code,
///   refuses a second copy 1.
/// - The audit table refuses UPDATE, DELETE and TRUNCATE by trigger; the hash chain shows what is
///   done around the triggers.
/// - The schema is created and migrated on open, under an advisory lock, so that processes starting
///   together apply each migration once (`dossier_migrations` records them).
///
/// ```swift
/// let endpoint = try PostgresEndpoint(url: url, variable: "--ledger", subject: "the ledger")
/// let ledger = try await PostgresLedger.open(endpoint)
/// let r = try await ledger.createRequest(draft, at: Date())
/// await ledger.close()
/// ```
public final class PostgresLedger: Ledger {
    static let logger = Logger(label: "dossier.ledger.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    /// The advisory lock of the ledger's writers (any fixed 64-bit number; "dossier" in ASCII).
    static let writersLock: Int64 = 0x646F_7373_6965_72
    /// The advisory lock of the migrations.
    static let migrationsLock: Int64 = 0x646F_7373_6965_73

    private let client: PostgresClient
    private let running: Task<Void, Never>
    public let endpoint: PostgresEndpoint
    /// How long a claim lasts without renewal.
    public let leaseSeconds: Int
    /// Who holds claims taken here, for messages and the audit trail (`host:pid`).
    let owner: String

    private init(client: PostgresClient, running: Task<Void, Never>, endpoint: PostgresEndpoint, leaseSeconds: Int) {
        self.client = client; self.running = running; self.endpoint = endpoint; self.leaseSeconds = leaseSeconds
        owner = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Connects (at most `connections` connections) and brings the schema up to date.
    ///
    /// The schema is brought up to date over a connection of its own first: postgres-nio's pool
    /// retries a refused connection until its request times out and then reports only that the pool
    /// failed, while a direct connection says at once what the server said (wrong password, no such
    /// database, nothing listening).
    public static func open(_ endpoint: PostgresEndpoint, connections: Int = 4, leaseSeconds: Int = 30) async throws(DossierError) -> PostgresLedger {
        let first: PostgresConnection
        do {
            first = try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(),
                                                         configuration: try endpoint.configuration(readOnly: false), id: 0, logger: logger)
        } catch let error as DossierError {
            throw error
        } catch {
            throw DossierError(.outputUnavailable, "cannot open the PostgreSQL ledger at \(endpoint.place): \(PostgresFailure.connectionReason(error))")
        }
        do {
            try await migrate(first, endpoint: endpoint)
            try? await first.close()
        } catch {
            try? await first.close()
            throw error
        }
        let client = PostgresClient(configuration: try endpoint.clientConfiguration(connections: connections), backgroundLogger: logger)
        let running = Task { await client.run() }
        return PostgresLedger(client: client, running: running, endpoint: endpoint, leaseSeconds: leaseSeconds)
    }

    /// Renewed at a third of the lease, so that two renewals may fail before it expires.
    public var renewalInterval: Duration? { .seconds(max(1, leaseSeconds / 3)) }

    /// Closes the connections.
    public func close() async {
        running.cancel()
        _ = await running.value
    }

    deinit { running.cancel() }

    // MARK: Schema

    /// The migrations, in order; a new version appends, never edits.
    static let migrations: [(version: Int, name: String, sql: [String])] = [
        (1, "requests, identifiers, deliveries, history, claims (leases), audit", [
            """
            CREATE TABLE requests (
                id text PRIMARY KEY, year integer NOT NULL, seq integer NOT NULL,
                kind text NOT NULL, status text NOT NULL, received date NOT NULL,
                first_deadline date NOT NULL, deadline date NOT NULL, extended_months integer NOT NULL DEFAULT 0,
                extension_reason text, channel text NOT NULL, language text NOT NULL,
                verification_method text, verified_by text, verified_at timestamptz,
                refusal_reason text, withdrawal_reason text,
                flags json NOT NULL DEFAULT '[]', evidence json NOT NULL DEFAULT '[]',
                created_at timestamptz NOT NULL, reference text UNIQUE,
                UNIQUE (year, seq),
                CHECK (status IN ('received', 'verified', 'extended', 'fulfilled', 'refused', 'withdrawn')))
            """,
            """
            CREATE TABLE request_identifiers (
                request_id text NOT NULL REFERENCES requests(id), kind text NOT NULL, value text NOT NULL,
                PRIMARY KEY (request_id, kind, value))
            """,
            "CREATE INDEX request_identifiers_value ON request_identifiers (kind, value)",
            """
            CREATE TABLE deliveries (
                request_id text NOT NULL REFERENCES requests(id), copy integer NOT NULL CHECK (copy >= 1),
                at timestamptz NOT NULL, fee numeric NOT NULL, currency text NOT NULL, sha256 text NOT NULL,
                size bigint NOT NULL, format text NOT NULL, path text NOT NULL, fingerprint text NOT NULL,
                PRIMARY KEY (request_id, copy))
            """,
            """
            CREATE TABLE history (
                id bigserial PRIMARY KEY, request_id text NOT NULL REFERENCES requests(id), at timestamptz NOT NULL,
                from_status text, to_status text NOT NULL, note text)
            """,
            """
            CREATE TABLE claims (
                request_id text PRIMARY KEY REFERENCES requests(id), token text NOT NULL, owner text NOT NULL,
                started_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE audit (
                seq bigint PRIMARY KEY, at text NOT NULL, request_id text, action text NOT NULL,
                detail text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL)
            """,
            """
            CREATE FUNCTION dossier_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$
            """,
            "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION dossier_audit_append_only()",
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION dossier_audit_append_only()",
        ]),
        (2, "review before release", [
            """
            ALTER TABLE requests ADD COLUMN reviewed_at timestamptz, ADD COLUMN reviewed_fingerprint text,
                ADD COLUMN approved_by text, ADD COLUMN approved_at timestamptz, ADD COLUMN approved_fingerprint text
            """,
        ]),
        (3, "archives that expire", [
            "ALTER TABLE deliveries ADD COLUMN expires_on date, ADD COLUMN purged_at timestamptz",
        ]),
        (4, "the identifiers a delivery's resolution found", [
            """
            CREATE TABLE delivery_identifiers (
                request_id text NOT NULL, copy integer NOT NULL, kind text NOT NULL, value text NOT NULL,
                PRIMARY KEY (request_id, copy, kind, value), FOREIGN KEY (request_id, copy) REFERENCES deliveries(request_id, copy))
            """,
            "CREATE INDEX delivery_identifiers_value ON delivery_identifiers (kind, value)",
        ]),
        (5, "fields withheld at review", [
            "ALTER TABLE requests ADD COLUMN reviewed_redactions text, ADD COLUMN approved_redactions text",
        ]),
        (6, "copies split into parts", [
            "ALTER TABLE deliveries ADD COLUMN parts text",
        ]),
        (7, "copies sent to other controllers", [
            """
            CREATE TABLE transmissions (
                id bigserial PRIMARY KEY, request_id text NOT NULL, copy integer NOT NULL, at timestamptz NOT NULL,
                destination text NOT NULL, idempotency_key text NOT NULL, accepted boolean NOT NULL, status integer,
                response_sha256 text, response_size bigint, response text, attempts integer NOT NULL, error text,
                FOREIGN KEY (request_id, copy) REFERENCES deliveries(request_id, copy))
            """,
            "CREATE INDEX transmissions_request ON transmissions (request_id)",
        ]),
        (8, "a request's history found by its id", [
            "CREATE INDEX history_request ON history (request_id, id)",
        ]),
    ]

    static func migrate(_ c: PostgresConnection, endpoint: PostgresEndpoint) async throws(DossierError) {
        do {
            try await c.query("BEGIN", logger: logger)
            do {
                try await c.query("SELECT pg_advisory_xact_lock(\(migrationsLock))", logger: logger)
                try await migrateLocked(c)
                try await c.query("COMMIT", logger: logger)
            } catch {
                _ = try? await c.query("ROLLBACK", logger: logger)
                throw error
            }
        } catch let error as DossierError {
            throw error
        } catch {
            throw DossierError(.outputUnavailable, "cannot bring the ledger's schema up to date at \(endpoint.place): \(PostgresFailure.connectionReason(error))")
        }
    }

    static func migrateLocked(_ c: PostgresConnection) async throws {
        try await c.query("""
            CREATE TABLE IF NOT EXISTS dossier_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: Self.logger)
        var applied = Set<Int>()
        for try await (version) in try await c.query("SELECT version FROM dossier_migrations", logger: Self.logger).decode(Int.self) {
            applied.insert(version)
        }
        if let newest = applied.max(), newest > Self.migrations.last?.version ?? 0 {
            throw DossierError(.outputUnavailable, "the ledger's schema is version \(newest), newer than this Dossier knows (\(Self.migrations.last?.version ?? 0)): update Dossier")
        }
        for migration in Self.migrations where !applied.contains(migration.version) {
            for statement in migration.sql { try await c.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger) }
            try await c.query(Self.query("INSERT INTO dossier_migrations (version, name) VALUES ($1, $2)",
                                         [String(migration.version), migration.name]), logger: Self.logger)
        }
    }

    // MARK: Plumbing

    /// `sql` with its parameters as untyped text (NULL for nil): the server reads each as the type
    /// its place in the query needs.
    static func query(_ sql: String, _ values: [String?]) -> PostgresQuery {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            if let value { binds.append(UntypedText(text: value)) } else { binds.appendNull() }
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// The rows of a query, each as column name → value.
    static func rows(_ c: PostgresConnection, _ sql: String, _ values: [String?] = []) async throws -> [[String: Value]] {
        var result: [[String: Value]] = []
        for try await row in try await c.query(query(sql, values), logger: logger) { result.append(try decode(row)) }
        return result
    }

    static func decode(_ row: PostgresRow) throws -> [String: Value] {
        var fields: [String: Value] = [:]
        for cell in row { fields[cell.columnName] = try PostgresValues.value(oid: cell.dataType.rawValue, bytes: cell.bytes) { _ in nil } }
        return fields
    }

    @discardableResult
    static func execute(_ c: PostgresConnection, _ sql: String, _ values: [String?] = []) async throws -> Int {
        var count = 0
        for try await _ in try await c.query(query(sql, values), logger: logger) { count += 1 }
        return count
    }

    /// One transaction on one connection: `begin` opens it, `lock` is the advisory lock taken first
    /// (nil: none), COMMIT after `body`, ROLLBACK when anything fails.
    @discardableResult
    func transaction<T: Sendable>(_ what: String, begin: String = "BEGIN", lock: Int64? = PostgresLedger.writersLock,
                                  _ body: (PostgresConnection) async throws -> T) async throws(DossierError) -> T {
        do {
            return try await client.withConnection { c in
                try await c.query(PostgresQuery(unsafeSQL: begin), logger: Self.logger)
                do {
                    if let lock { try await c.query("SELECT pg_advisory_xact_lock(\(lock))", logger: Self.logger) }
                    let value = try await body(c)
                    try await c.query("COMMIT", logger: Self.logger)
                    return value
                } catch {
                    _ = try? await c.query("ROLLBACK", logger: Self.logger)
                    throw error
                }
            }
        } catch let error as DossierError {
            throw error
        } catch {
            throw failure(what, error)
        }
    }

    /// Reading: one read-only snapshot.
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(DossierError) -> T {
        try await transaction("read the ledger", begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", lock: nil, body)
    }

    func failure(_ what: String, _ error: any Error) -> DossierError {
        if PostgresFailure.sqlState(error) == "23505" {
            return DossierError(.busy, "cannot \(what): another process wrote the same row meanwhile (the ledger refuses it twice, SQLSTATE 23505)")
        }
        if let psql = error as? PSQLError, psql.code == .server {
            return DossierError(.outputWrite, "cannot \(what) in the PostgreSQL ledger at \(endpoint.place): \(PostgresFailure.serverMessage(psql))")
        }
        return DossierError(.outputUnavailable, "cannot \(what): the PostgreSQL ledger at \(endpoint.place) cannot be reached (\(PostgresFailure.connectionReason(error)))")
    }

    static func text(_ v: Value?) -> String? { v?.scalarText }
    static func int(_ v: Value?) -> Int { v?.scalarText.flatMap { Int($0) } ?? 0 }

    /// Appends a row to the audit trail, chained to the previous one (under the writers' lock).
    static func appendAudit(_ c: PostgresConnection, at: Date, request: String?, action: String, detail: [(String, String)]) async throws {
        let last = try await rows(c, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").first
        let seq = int(last?["seq"]) + 1
        let prev = text(last?["hash"]) ?? AuditChain.genesis
        let detailText = AuditChain.detailText(detail)
        let at = AuditChain.timestamp(at)
        let hash = AuditChain.hash(seq: seq, at: at, request: request, action: action, detail: detailText, prev: prev)
        try await execute(c, "INSERT INTO audit (seq, at, request_id, action, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                          [String(seq), at, request, action, detailText, prev, hash])
    }

    // MARK: Requests

    public func createRequest(_ draft: NewRequest, at: Date) async throws(DossierError) -> RequestRecord {
        let id: String = try await transaction("open the request") { c in
            let year = draft.received.year
            let seq = Self.int(try await Self.rows(c, "SELECT coalesce(max(seq), 0) + 1 AS next FROM requests WHERE year = $1", [String(year)]).first?["next"])
            let id = "DSR-\(year)-\(String(format: "%04d", seq))"
            if let reference = draft.reference,
               let existing = try await Self.rows(c, "SELECT id FROM requests WHERE reference = $1", [reference]).first {
                throw DossierError(.refused, "a request with the reference '\(reference)' is already in the ledger: \(Self.text(existing["id"]) ?? "")")
            }
            let stamp = AuditChain.timestamp(at)
            try await Self.execute(c, """
                INSERT INTO requests (id, year, seq, kind, status, received, first_deadline, deadline, channel, language, flags, evidence, created_at, reference)
                VALUES ($1, $2, $3, $4, 'received', $5, $6, $7, $8, $9, $10, $11, $12, $13)
                """, [id, String(year), String(seq), draft.kind.rawValue, draft.received.description, draft.firstDeadline.description,
                      draft.firstDeadline.description, draft.channel, draft.language, Value.array(draft.flags.map { .string($0) }).jsonText(),
                      Value.array(draft.evidence).jsonText(), stamp, draft.reference])
            for identifier in draft.identifiers {
                try await Self.execute(c, "INSERT INTO request_identifiers (request_id, kind, value) VALUES ($1, $2, $3)",
                                       [id, identifier.kind.name, identifier.value])
            }
            try await Self.execute(c, "INSERT INTO history (request_id, at, from_status, to_status, note) VALUES ($1, $2, NULL, 'received', $3)",
                                   [id, stamp, "received via \(draft.channel)"])
            var detail = [("kind", draft.kind.rawValue), ("received", draft.received.description),
                          ("deadline", draft.firstDeadline.description), ("identifiers", String(draft.identifiers.count))]
            if !draft.flags.isEmpty { detail.append(("flags", draft.flags.joined(separator: ","))) }
            if let reference = draft.reference { detail.append(("reference", reference)) }
            try await Self.appendAudit(c, at: at, request: id, action: "opened", detail: detail)
            return id
        }
        guard let record = try await request(id) else { throw DossierError(.internal, "the new request \(id) cannot be read back") }
        return record
    }

    /// The columns a change may set (`RequestChange.fields`), named here so that no other text
    /// becomes part of the SQL.
    static let changeableColumns: Set<String> = [
        "verification_method", "verified_by", "verified_at", "extended_months", "deadline", "extension_reason",
        "refusal_reason", "withdrawal_reason", "reviewed_at", "reviewed_fingerprint", "approved_by", "approved_at",
        "approved_fingerprint", "reviewed_redactions", "approved_redactions",
    ]

    public func apply(_ change: RequestChange, to id: String, expecting expected: Set<RequestStatus>, at: Date) async throws(DossierError) {
        if let column = change.fields.keys.first(where: { !Self.changeableColumns.contains($0) }) {
            throw DossierError(.internal, "a request change names the unknown column \(column)")
        }
        try await transaction("change the request") { c in
            guard let row = try await Self.rows(c, "SELECT status FROM requests WHERE id = $1 FOR UPDATE", [id]).first,
                  let status = Self.text(row["status"]) else {
                throw DossierError(.usage, "there is no request \(id) in the ledger")
            }
            guard let current = RequestStatus(rawValue: status), expected.contains(current) else {
                throw DossierError(.refused, "request \(id) is \(status) now; it changed meanwhile")
            }
            var sets = ["status = $1"]
            var values: [String?] = [change.to.rawValue]
            for (column, value) in change.fields.sorted(by: { $0.key < $1.key }) {
                values.append(value)
                sets.append("\(column) = $\(values.count)")
            }
            values.append(id)
            try await Self.execute(c, "UPDATE requests SET \(sets.joined(separator: ", ")) WHERE id = $\(values.count)", values)
            try await Self.execute(c, "INSERT INTO history (request_id, at, from_status, to_status, note) VALUES ($1, $2, $3, $4, $5)",
                                   [id, AuditChain.timestamp(at), status, change.to.rawValue, change.note])
            try await Self.appendAudit(c, at: at, request: id, action: change.action ?? change.to.rawValue, detail: [("from", status)] + change.audit)
        }
    }

    // MARK: Claims (leases)

    public func claim(_ id: String, at: Date) async throws(DossierError) -> Claim {
        let token = UUID().uuidString
        let owner = self.owner, lease = String(leaseSeconds)
        let recovered: Bool = try await transaction("claim the request") { c in
            var recovered = false
            guard try await !Self.rows(c, "SELECT 1 FROM requests WHERE id = $1", [id]).isEmpty else {
                throw DossierError(.usage, "there is no request \(id) in the ledger")
            }
            if let held = try await Self.rows(c, """
                SELECT owner, started_at, expires_at, expires_at > clock_timestamp() AS live FROM claims WHERE request_id = $1
                """, [id]).first {
                if held["live"] == .bool(true) {
                    throw DossierError(.busy, "request \(id) is being fulfilled by another process (\(Self.text(held["owner"]) ?? "?")) since \(Self.text(held["started_at"]) ?? "?"); its lease runs until \(Self.text(held["expires_at"]) ?? "?"); try again when it ends")
                }
                try await Self.execute(c, "DELETE FROM claims WHERE request_id = $1", [id])
                try await Self.appendAudit(c, at: at, request: id, action: "claim_recovered", detail: [("owner", Self.text(held["owner"]) ?? "?")])
                recovered = true
            }
            try await Self.execute(c, """
                INSERT INTO claims (request_id, token, owner, started_at, expires_at)
                VALUES ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5))
                """, [id, token, owner, AuditChain.timestamp(at), lease])
            return recovered
        }
        return Claim(requestID: id, token: token, recovered: recovered)
    }

    /// `FOR UPDATE SKIP LOCKED` picks a request no other transaction is claiming right now; the
    /// lease makes it its own until it expires.
    public func claimNext(at: Date, excluding: Set<String>, approvedOnly: Bool) async throws(DossierError) -> Claim? {
        let excluded = "{" + excluding.sorted().map { "\"" + $0 + "\"" }.joined(separator: ",") + "}"
        let token = UUID().uuidString
        let owner = self.owner, lease = String(leaseSeconds)
        let taken: (id: String, recovered: Bool)? = try await transaction("claim the next request") { c in
            guard let id = Self.text(try await Self.rows(c, """
                SELECT r.id FROM requests r
                WHERE r.status IN ('verified', 'extended') AND r.verified_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id)
                  AND NOT EXISTS (SELECT 1 FROM claims l WHERE l.request_id = r.id AND l.expires_at > clock_timestamp())
                  AND r.id <> ALL ($1::text[])
                  AND (NOT \(approvedOnly ? "true" : "false") OR r.approved_at IS NOT NULL)
                ORDER BY r.deadline, r.id
                LIMIT 1
                FOR UPDATE OF r SKIP LOCKED
                """, [excluded]).first?["id"]) else { return nil }
            var recovered = false
            if let expired = try await Self.rows(c, "DELETE FROM claims WHERE request_id = $1 RETURNING owner", [id]).first {
                try await Self.appendAudit(c, at: at, request: id, action: "claim_recovered", detail: [("owner", Self.text(expired["owner"]) ?? "?")])
                recovered = true
            }
            try await Self.execute(c, """
                INSERT INTO claims (request_id, token, owner, started_at, expires_at)
                VALUES ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5))
                """, [id, token, owner, AuditChain.timestamp(at), lease])
            return (id, recovered)
        }
        return taken.map { Claim(requestID: $0.id, token: token, recovered: $0.recovered) }
    }

    public func renew(_ claim: Claim) async throws(DossierError) {
        let lease = String(leaseSeconds)
        let renewed = try await transaction("renew the claim", lock: nil) { c in
            try await Self.execute(c, """
                UPDATE claims SET expires_at = clock_timestamp() + make_interval(secs => $3)
                WHERE request_id = $1 AND token = $2 RETURNING 1
                """, [claim.requestID, claim.token, lease])
        }
        if renewed == 0 {
            throw DossierError(.busy, "request \(claim.requestID): the claim was lost (its lease expired and another process took it over)")
        }
    }

    public func release(_ claim: Claim) async throws(DossierError) {
        try await transaction("release the request", lock: nil) { c in
            try await Self.execute(c, "DELETE FROM claims WHERE request_id = $1 AND token = $2", [claim.requestID, claim.token])
        }
    }

    public func recordDelivery(_ d: Delivery, for claim: Claim, note: String?,
                               beforeCommit: () throws(DossierError) -> Void) async throws(DossierError) {
        // The archive is renamed into place between the last statement and COMMIT; a second copy of
        // the same number is refused by the primary key (SQLSTATE 23505: `.busy`, nothing recorded).
        try await transaction("record the delivery of copy \(d.copy)") { c in
            let token = try await Self.rows(c, "SELECT token FROM claims WHERE request_id = $1 FOR UPDATE", [claim.requestID]).first
            guard Self.text(token?["token"]) == claim.token else {
                throw DossierError(.busy, "request \(claim.requestID) was taken over by another process; this copy is not recorded")
            }
            let status = Self.text(try await Self.rows(c, "SELECT status FROM requests WHERE id = $1", [claim.requestID]).first?["status"]) ?? ""
            try await Self.execute(c, """
                INSERT INTO deliveries (request_id, copy, at, fee, currency, sha256, size, format, path, fingerprint, expires_on, parts)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """, [claim.requestID, String(d.copy), AuditChain.timestamp(d.at), d.fee, d.currency, d.sha256, String(d.size),
                      d.format, d.path, d.fingerprint, d.expiresOn?.description, DeliveryPart.json(d.parts)])
            for id in Set(d.identifiers) {
                try await Self.execute(c, "INSERT INTO delivery_identifiers (request_id, copy, kind, value) VALUES ($1, $2, $3, $4)",
                                       [claim.requestID, String(d.copy), id.kind.name, id.value])
            }
            if status != RequestStatus.fulfilled.rawValue {
                try await Self.execute(c, "UPDATE requests SET status = 'fulfilled' WHERE id = $1", [claim.requestID])
            }
            try await Self.execute(c, "INSERT INTO history (request_id, at, from_status, to_status, note) VALUES ($1, $2, $3, 'fulfilled', $4)",
                                   [claim.requestID, AuditChain.timestamp(d.at), status, note])
            try await Self.appendAudit(c, at: d.at, request: claim.requestID, action: "delivered", detail: d.auditDetail)
            try await Self.execute(c, "DELETE FROM claims WHERE request_id = $1", [claim.requestID])
            try beforeCommit()
        }
    }

    // MARK: Reading

    public func request(_ id: String) async throws(DossierError) -> RequestRecord? {
        try await read { c in try await Self.load(c, id: id, withHistory: true) }
    }

    public func request(reference: String) async throws(DossierError) -> RequestRecord? {
        try await read { c in
            guard let id = Self.text(try await Self.rows(c, "SELECT id FROM requests WHERE reference = $1", [reference]).first?["id"]) else { return nil }
            return try await Self.load(c, id: id, withHistory: false)
        }
    }

    public func forEachRequest(statuses: Set<RequestStatus>?, deadlines: ClosedRange<Day>?,
                               _ body: (RequestRecord) throws(DossierError) -> Void) async throws(DossierError) {
        if statuses?.isEmpty == true { return }
        // One snapshot (the read transaction), a page of requests at a time (keyset on the id's year
        // and sequence), each page's rows of the other tables by one query per table.
        try await read { c in
            let statusList: String? = statuses.map { "{" + $0.map(\.rawValue).sorted().joined(separator: ",") + "}" }
            let columns = Self.requestColumns.split(separator: ",").map { "r." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")
            var after: (year: Int, seq: Int)?
            while true {
                var conditions: [String] = []
                var values: [String?] = []
                if let statusList {
                    values.append(statusList)
                    conditions.append("r.status = ANY($\(values.count)::text[])")
                }
                if let deadlines {
                    values += [deadlines.lowerBound.description, deadlines.upperBound.description]
                    conditions.append("r.deadline BETWEEN $\(values.count - 1)::date AND $\(values.count)::date")
                }
                if let after {
                    values += [String(after.year), String(after.seq)]
                    conditions.append("(r.year, r.seq) > ($\(values.count - 1)::int, $\(values.count)::int)")
                }
                let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
                let page = try await Self.rows(c, "SELECT \(columns), r.year, r.seq FROM requests r \(filter) ORDER BY r.year, r.seq LIMIT \(Self.pageSize)", values)
                guard let last = page.last else { return }
                let ids = page.map { Self.text($0["id"]) ?? "" }
                let idList = "{" + ids.joined(separator: ",") + "}"
                func children<T>(_ table: String, order: String, _ make: ([String: Value]) -> T) async throws -> [String: [T]] {
                    var grouped: [String: [T]] = [:]
                    for row in try await Self.rows(c, "SELECT * FROM \(table) WHERE request_id = ANY($1::text[]) ORDER BY request_id, \(order)", [idList]) {
                        grouped[Self.text(row["request_id"]) ?? "", default: []].append(make(row))
                    }
                    return grouped
                }
                let identifiers = try await children("request_identifiers", order: "kind COLLATE \"C\", value COLLATE \"C\"", Self.identifier)
                let deliveries = try await children("deliveries", order: "copy", Self.delivery)
                let transmissions = try await children("transmissions", order: "id", Self.transmission)
                for (row, id) in zip(page, ids) {
                    try body(try Self.record(row, identifiers: identifiers[id] ?? [], deliveries: deliveries[id] ?? [],
                                             transmissions: transmissions[id] ?? [], history: []))
                }
                if page.count < Self.pageSize { return }
                after = (Self.int(last["year"]), Self.int(last["seq"]))
            }
        }
    }

    /// Requests read at a time by `forEachRequest`.
    static let pageSize = 500

    static func identifier(_ r: [String: Value]) -> Identifier {
        Identifier(kind: IdentifierKind(text(r["kind"]) ?? ""), value: text(r["value"]) ?? "")
    }

    static func transmission(_ t: [String: Value]) -> Transmission {
        Transmission(copy: int(t["copy"]), at: time(t["at"]), destination: text(t["destination"]) ?? "",
                     idempotencyKey: text(t["idempotency_key"]) ?? "", accepted: text(t["accepted"]) == "true",
                     status: text(t["status"]).flatMap { Int($0) }, responseSHA256: text(t["response_sha256"]),
                     responseSize: text(t["response_size"]).flatMap { Int($0) }, response: text(t["response"]),
                     attempts: int(t["attempts"]), error: text(t["error"]))
    }

    static let requestColumns = """
        id, kind, status, received::text AS received, first_deadline::text AS first_deadline, deadline::text AS deadline,
        extended_months, extension_reason, channel, language, verification_method, verified_by, verified_at,
        refusal_reason, withdrawal_reason, flags::text AS flags, evidence::text AS evidence, reference,
        reviewed_at, reviewed_fingerprint, approved_by, approved_at, approved_fingerprint, reviewed_redactions, approved_redactions
        """

    static func load(_ c: PostgresConnection, id: String, withHistory: Bool) async throws -> RequestRecord? {
        guard let row = try await rows(c, "SELECT \(requestColumns) FROM requests WHERE id = $1", [id]).first else { return nil }
        let identifiers = try await rows(c, "SELECT kind, value FROM request_identifiers WHERE request_id = $1 ORDER BY kind COLLATE \"C\", value COLLATE \"C\"", [id])
            .map(identifier)
        let deliveries = try await rows(c, "SELECT * FROM deliveries WHERE request_id = $1 ORDER BY copy", [id]).map(delivery)
        let transmissions = try await rows(c, "SELECT * FROM transmissions WHERE request_id = $1 ORDER BY id", [id]).map(transmission)
        let history = withHistory ? try await rows(c, "SELECT * FROM history WHERE request_id = $1 ORDER BY id", [id]).map { h in
            HistoryEvent(at: time(h["at"]), from: text(h["from_status"]).flatMap(RequestStatus.init(rawValue:)),
                         to: RequestStatus(rawValue: text(h["to_status"]) ?? "") ?? .received, note: text(h["note"]))
        } : []
        return try record(row, identifiers: identifiers, deliveries: deliveries, transmissions: transmissions, history: history)
    }

    /// A request from its row and its rows in the other tables.
    static func record(_ row: [String: Value], identifiers: [Identifier], deliveries: [Delivery], transmissions: [Transmission],
                       history: [HistoryEvent]) throws -> RequestRecord {
        let id = text(row["id"]) ?? ""
        let flags: [String] = {
            guard case .array(let items)? = try? JSON.parse(text(row["flags"]) ?? "[]") else { return [] }
            return items.compactMap(\.scalarText)
        }()
        let evidence: [Value] = {
            guard case .array(let items)? = try? JSON.parse(text(row["evidence"]) ?? "[]") else { return [] }
            return items
        }()
        return RequestRecord(
            id: id, kind: RequestKind(rawValue: text(row["kind"]) ?? "") ?? .access,
            status: RequestStatus(rawValue: text(row["status"]) ?? "") ?? .received,
            received: try day(row["received"]), firstDeadline: try day(row["first_deadline"]), deadline: try day(row["deadline"]),
            extendedMonths: int(row["extended_months"]), extensionReason: text(row["extension_reason"]),
            channel: text(row["channel"]) ?? "", language: text(row["language"]) ?? "", identifiers: identifiers,
            verificationMethod: text(row["verification_method"]), verifiedBy: text(row["verified_by"]),
            verifiedAt: row["verified_at"].flatMap { $0.isNull ? nil : time($0) }, refusalReason: text(row["refusal_reason"]),
            withdrawalReason: text(row["withdrawal_reason"]), flags: flags, evidence: evidence, deliveries: deliveries, history: history,
            reference: text(row["reference"]),
            reviewedAt: row["reviewed_at"].flatMap { $0.isNull ? nil : time($0) }, reviewedFingerprint: text(row["reviewed_fingerprint"]),
            approvedBy: text(row["approved_by"]), approvedAt: row["approved_at"].flatMap { $0.isNull ? nil : time($0) },
            approvedFingerprint: text(row["approved_fingerprint"]),
            reviewedRedactions: text(row["reviewed_redactions"]), approvedRedactions: text(row["approved_redactions"]), transmissions: transmissions)
    }

    static func day(_ v: Value?) throws -> Day {
        guard let t = text(v), let d = Day(t) else { throw DossierError(.internal, "the ledger holds a date Dossier cannot read") }
        return d
    }

    /// A timestamptz as PostgresValues writes it (`2026-03-01T11:00:00.12Z`: up to six decimals,
    /// trailing zeros dropped), read with the ledgers' milliseconds.
    static func time(_ v: Value?) -> Date {
        var t = text(v) ?? ""
        if t.hasSuffix("Z"), let dot = t.firstIndex(of: ".") {
            let fraction = t[t.index(after: dot)..<t.index(before: t.endIndex)]
            t = String(t[..<dot]) + "." + String((fraction + "000").prefix(3)) + "Z"
        }
        return AuditChain.date(t)
    }

    static func delivery(_ r: [String: Value]) -> Delivery {
        var d = Delivery(copy: int(r["copy"]), at: time(r["at"]), fee: text(r["fee"]) ?? "", currency: text(r["currency"]) ?? "",
                 sha256: text(r["sha256"]) ?? "", size: int(r["size"]), format: text(r["format"]) ?? "", path: text(r["path"]) ?? "",
                 fingerprint: text(r["fingerprint"]) ?? "", expiresOn: text(r["expires_on"]).flatMap(Day.init),
                 purgedAt: r["purged_at"].flatMap { $0.isNull ? nil : time($0) })
        d.parts = DeliveryPart.parse(text(r["parts"]))
        return d
    }

    public func expiredDeliveries(before day: Day) async throws(DossierError) -> [(requestID: String, delivery: Delivery)] {
        try await read { c in
            try await Self.rows(c, """
                SELECT * FROM deliveries WHERE expires_on IS NOT NULL AND expires_on < $1::date AND purged_at IS NULL
                ORDER BY expires_on, request_id, copy
                """, [day.description]).map { (requestID: Self.text($0["request_id"]) ?? "", delivery: Self.delivery($0)) }
        }
    }

    public func recordTransmission(_ t: Transmission, requestID: String) async throws(DossierError) {
        try await transaction("record the transmission") { c in
            try await Self.execute(c, """
                INSERT INTO transmissions (request_id, copy, at, destination, idempotency_key, accepted, status, response_sha256,
                                           response_size, response, attempts, error)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """, [requestID, String(t.copy), AuditChain.timestamp(t.at), t.destination, t.idempotencyKey, t.accepted ? "true" : "false",
                      t.status.map(String.init), t.responseSHA256, t.responseSize.map(String.init), t.response, String(t.attempts), t.error])
            try await Self.appendAudit(c, at: t.at, request: requestID, action: t.accepted ? "transmitted" : "transmission_failed", detail: t.auditDetail)
        }
    }

        public func markPurged(requestID: String, copy: Int, at: Date, beforeCommit: () throws(DossierError) -> Void) async throws(DossierError) -> Bool {
        try await transaction("record the purge") { c in
            guard let row = try await Self.rows(c, "SELECT * FROM deliveries WHERE request_id = $1 AND copy = $2 AND purged_at IS NULL FOR UPDATE",
                                                [requestID, String(copy)]).first else { return false }
            let d = Self.delivery(row)
            try await Self.execute(c, "UPDATE deliveries SET purged_at = $1 WHERE request_id = $2 AND copy = $3",
                                   [AuditChain.timestamp(at), requestID, String(copy)])
            try await Self.appendAudit(c, at: at, request: requestID, action: "purged", detail: [
                ("copy", String(copy)), ("sha256", d.sha256), ("expires_on", d.expiresOn?.description ?? ""),
            ])
            try beforeCommit()
            return true
        }
    }

    public func deliveries(sharing identifiers: [Identifier], since: Date) async throws(DossierError) -> [(requestID: String, delivery: Delivery)] {
        guard !identifiers.isEmpty else { return [] }
        return try await read { c in
            var values: [String?] = []
            var matches: [String] = []
            for id in identifiers {
                values += [id.kind.name, id.value]
                matches.append("(i.kind = $\(values.count - 1) AND i.value = $\(values.count))")
            }
            values.append(AuditChain.timestamp(since))
            let found = try await Self.rows(c, """
                SELECT DISTINCT d.* FROM deliveries d
                JOIN (SELECT request_id, NULL AS copy, kind, value FROM request_identifiers
                      UNION ALL SELECT request_id, copy, kind, value FROM delivery_identifiers) i
                  ON i.request_id = d.request_id AND (i.copy IS NULL OR i.copy = d.copy)
                WHERE (\(matches.joined(separator: " OR "))) AND d.at >= $\(values.count) ORDER BY d.at, d.request_id, d.copy
                """, values)
            return found.map { (Self.text($0["request_id"]) ?? "", Self.delivery($0)) }
        }
    }

    static let auditColumns = "SELECT seq, at, request_id, action, detail, prev_hash, hash FROM audit ORDER BY seq"

    static func auditRow(_ r: PostgresRow) throws -> AuditChain.Row {
        let v = try decode(r)
        return AuditChain.Row(seq: int(v["seq"]), at: text(v["at"]) ?? "", request: text(v["request_id"]), action: text(v["action"]) ?? "",
                              detail: text(v["detail"]) ?? "", prevHash: text(v["prev_hash"]) ?? "", hash: text(v["hash"]) ?? "")
    }

    public func auditRows(_ body: (Value) throws(DossierError) -> Void) async throws(DossierError) {
        // Streamed: rows are handed on as the server sends them, one connection held meanwhile.
        do {
            try await client.withConnection { c in
                for try await row in try await c.query(PostgresQuery(unsafeSQL: Self.auditColumns), logger: Self.logger) {
                    try body(try Self.auditRow(row).value)
                }
            }
        } catch let error as DossierError {
            throw error
        } catch {
            throw failure("read the audit trail", error)
        }
    }

    public func verifyAudit() async throws(DossierError) -> AuditVerdict {
        do {
            return try await client.withConnection { c in
                var checker = AuditChain.Checker()
                for try await row in try await c.query(PostgresQuery(unsafeSQL: Self.auditColumns), logger: Self.logger) {
                    if !checker.check(try Self.auditRow(row)) { break }
                }
                return checker.verdict
            }
        } catch let error as DossierError {
            throw error
        } catch {
            throw failure("read the audit trail", error)
        }
    }
}
