import DossierModel
import DossierPostgres
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Connections to one PostgreSQL database that all read the same snapshot, at most `limit` of them
/// lent out at a time.
///
/// postgres-nio's `PostgresClient` pools connections, but a lease may come back on any connection in
/// any state, and every lease would have to begin a transaction and import the snapshot again (two
/// more round trips per lookup). Here each connection keeps its own transaction for the whole run.
///
/// ```swift
/// let pool = try await PostgresSnapshotPool.open(endpoint, connections: 2)
/// let c = try await pool.acquire()
/// _ = try await c.query("SELECT 1", logger: PostgresSnapshotPool.logger)
/// await pool.release(c, clean: true)
/// await pool.close()
/// ```
actor PostgresSnapshotPool {
    static let logger = Logger(label: "dossier.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    /// Seconds a lookup waits for a lock another session holds on what it reads (a writer's
    /// `ACCESS EXCLUSIVE` during a migration, say) before it gives up: as long as a SQLite source
    /// waits for its file's lock.
    static let lockTimeout = 5

    private let endpoint: PostgresEndpoint
    private let configuration: PostgresConnection.Configuration
    private let limit: Int
    private let anchor: PostgresConnection
    private let snapshot: String
    /// How the types that are not built in are sent, read once from `pg_type`.
    nonisolated let types: [UInt32: PostgresValues.ExtraType]
    private var idle: [PostgresConnection] = []
    private var opened = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var closed = false

    private init(endpoint: PostgresEndpoint, configuration: PostgresConnection.Configuration, limit: Int,
                 anchor: PostgresConnection, snapshot: String, types: [UInt32: PostgresValues.ExtraType], first: PostgresConnection) {
        self.endpoint = endpoint; self.configuration = configuration; self.limit = limit
        self.anchor = anchor; self.snapshot = snapshot; self.types = types
        idle = [first]; opened = 1
    }

    /// Connects the anchor and a first reading connection (side by side), exports the snapshot and
    /// reads the catalogue's extra types.
    static func open(_ endpoint: PostgresEndpoint, connections: Int, timeout: Int? = nil) async throws(DossierError) -> PostgresSnapshotPool {
        let configuration = try endpoint.configuration(lockTimeout: lockTimeout, statementTimeout: timeout)
        let anchor: PostgresConnection, first: PostgresConnection
        do {
            async let a = connect(configuration, id: 0)
            async let b = connect(configuration, id: 1)
            (anchor, first) = try await (a, b)
        } catch {
            throw DossierError(.sourceUnreadable, "\(endpoint.subject): cannot connect to PostgreSQL at \(endpoint.place): \(PostgresFailure.connectionReason(error))")
        }
        do {
            try await anchor.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            var snapshot: String?
            for try await (id) in try await anchor.query("SELECT pg_export_snapshot()", logger: logger).decode(String.self) { snapshot = id }
            guard let snapshot, snapshot.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == "-" }) else {
                throw DossierError(.sourceUnreadable, "\(endpoint.subject): the server gave no snapshot to share")
            }
            var types: [UInt32: PostgresValues.ExtraType] = [:]
            let rows = try await anchor.query(Self.typesQuery, logger: logger)
            for try await (oid, name, send, element, base) in rows.decode((Int64, String, String, Int64, Int64).self) {
                types[UInt32(oid)] = extraType(name: name, send: send, element: UInt32(element), base: UInt32(base))
            }
            try await begin(first, snapshot: snapshot)
            return PostgresSnapshotPool(endpoint: endpoint, configuration: configuration, limit: connections,
                                        anchor: anchor, snapshot: snapshot, types: types, first: first)
        } catch {
            try? await anchor.close()
            try? await first.close()
            if let e = error as? DossierError { throw e }
            throw DossierError(.sourceUnreadable, "\(endpoint.subject): cannot start a read-only snapshot at \(endpoint.place): \(PostgresFailure.connectionReason(error))")
        }
    }

    /// Types that are not built in (OID 16384 and above: enums, domains, extensions' types such as
    /// citext, and arrays of them); table row types are left out.
    static let typesQuery: PostgresQuery = """
        SELECT t.oid::int8, t.typname::text, t.typsend::regproc::text, t.typelem::int8, t.typbasetype::int8
        FROM pg_type t WHERE t.oid >= 16384 AND t.typrelid = 0
        """

    static func extraType(name: String, send: String, element: UInt32, base: UInt32) -> PostgresValues.ExtraType {
        if base != 0 { return .alias(base) }
        if send == "array_send", element != 0 { return .array(element: element) }
        let textual: Set<String> = ["enum_send", "textsend", "citextsend", "varcharsend", "bpcharsend"]
        return textual.contains(send) ? .text : .unsupported(name)
    }

    static func connect(_ configuration: PostgresConnection.Configuration, id: Int) async throws -> PostgresConnection {
        try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: id, logger: logger)
    }

    static func begin(_ connection: PostgresConnection, snapshot: String) async throws {
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        try await connection.query(PostgresQuery(unsafeSQL: "SET TRANSACTION SNAPSHOT '\(snapshot)'"), logger: logger)
    }

    /// A connection in the snapshot, opening one when fewer than `limit` are open, else waiting for one.
    func acquire() async throws(DossierError) -> PostgresConnection {
        while true {
            if closed { throw DossierError(.internal, "\(endpoint.subject): the source was used after it was closed") }
            if let c = idle.popLast() { return c }
            if opened < limit {
                opened += 1
                do {
                    let c = try await Self.connect(configuration, id: opened + 1)
                    do { try await Self.begin(c, snapshot: snapshot) } catch { try? await c.close(); throw error }
                    return c
                } catch {
                    opened -= 1
                    wakeOne()
                    throw DossierError(.sourceUnreadable, "\(endpoint.subject): cannot open another connection to \(endpoint.place): \(PostgresFailure.connectionReason(error))")
                }
            }
            await withCheckedContinuation { waiting.append($0) }
        }
    }

    /// Gives a connection back; one whose last lookup failed is rolled back into the snapshot first,
    /// or closed when that fails.
    func release(_ connection: PostgresConnection, clean: Bool) async {
        if closed { try? await connection.close(); return }
        if !clean {
            do { try await reset(connection) } catch {
                try? await connection.close()
                opened -= 1
                wakeOne()
                return
            }
        }
        idle.append(connection)
        wakeOne()
    }

    /// Ends the connection's aborted transaction and starts a new one in the same snapshot.
    func reset(_ connection: PostgresConnection) async throws {
        try await connection.query("ROLLBACK", logger: Self.logger)
        try await Self.begin(connection, snapshot: snapshot)
    }

    private func wakeOne() {
        if !waiting.isEmpty { waiting.removeFirst().resume() }
    }

    /// Closes every connection at once: one after the other, each close waited for its own round
    /// trip, a tenth of a single export through PostgreSQL.
    func close() async {
        closed = true
        let connections = idle + [anchor]
        idle = []
        await withTaskGroup(of: Void.self) { group in
            for c in connections { group.addTask { try? await c.close() } }
        }
        for w in waiting { w.resume() }
        waiting = []
    }
}
