import DossierModel
import DossierPostgres
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Reads a PostgreSQL database with the data map's queries, every export of a run in one snapshot.
///
/// One connection (the anchor) opens a `REPEATABLE READ READ ONLY` transaction and exports its
/// snapshot (`pg_export_snapshot()`); it runs no lookup and holds the snapshot for the run. Lookups run
/// on up to `connections` further connections (the run's concurrent exports), each inside a read-only
/// transaction that imports the same snapshot: every export of a batch sees the same data, however
/// many run at once, and nothing can write. A lookup that fails (a value that cannot be compared with
/// its column, say) rolls its connection back and re-imports the snapshot.
///
/// `:value` is bound as `$1` with no declared type, so the server reads it as its column's type: an
/// identifier `17` finds an `integer` 17 and a `text` '17'. A value that is no valid input of that
/// type (`abc` for an integer) finds nothing. Rows are streamed as the server sends them.
final class PostgresCollector: Collector {
    private let source: Source
    private let pool: PostgresSnapshotPool
    private let context: CollectorContext
    /// Seconds one lookup may run (the server's `statement_timeout`).
    private let timeout: Int
    /// The rewritten SQL of each dataset's lookup (`$1` for `:value`), by dataset and identifier kind.
    private let statements: [String: [String: String]]

    private init(source: Source, pool: PostgresSnapshotPool, context: CollectorContext, timeout: Int) {
        self.source = source; self.pool = pool; self.context = context; self.timeout = timeout
        var statements: [String: [String: String]] = [:]
        for dataset in source.datasets {
            for lookup in dataset.lookups { statements[dataset.id, default: [:]][lookup.kind.name] = PostgresSQL.positional(lookup.expression).sql }
        }
        self.statements = statements
    }

    static func open(_ source: Source, endpoint: PostgresEndpoint, context: CollectorContext, timeout: Int) async throws(DossierError) -> PostgresCollector {
        let pool = try await PostgresSnapshotPool.open(endpoint, connections: max(1, context.concurrency), timeout: timeout)
        return PostgresCollector(source: source, pool: pool, context: context, timeout: timeout)
    }

    func close() async { await pool.close() }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (DossierModel.Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        let work = dataset.lookups.flatMap { lookup in identifiers.filter { $0.kind == lookup.kind }.map { (lookup, $0) } }
        guard !work.isEmpty else { return }
        let connection = try await pool.acquire()
        let types = pool.types
        var failure: DossierError?
        lookups: for (lookup, id) in work {
            let sql = statements[dataset.id]?[lookup.kind.name] ?? PostgresSQL.positional(lookup.expression).sql
            do {
                let rows = try await connection.query(Self.query(sql, value: id.value), logger: PostgresSnapshotPool.logger)
                if let missing = context.missingYield(dataset, columns: rows.columns.map(\.name), source: source, in: lookup.location) { throw missing }
                for try await row in rows {
                    let record = try Self.record(row, types: types, dataset: dataset, source: source)
                    try found(record, id)
                }
            } catch let error as DossierError {
                failure = error
                break lookups
            } catch let error as PSQLError where PostgresFailure.sqlState(error)?.hasPrefix("22") == true {
                // The identifier is no valid value of the column's type: it finds nothing there. The
                // transaction is aborted; roll back and import the snapshot again.
                do { try await pool.reset(connection) } catch {
                    failure = self.failure(error, lookup: lookup, dataset: dataset)
                    break lookups
                }
            } catch {
                failure = self.failure(error, lookup: lookup, dataset: dataset)
                break lookups
            }
        }
        await pool.release(connection, clean: failure == nil)
        if let failure { throw failure }
    }

    /// Runs each lookup with `:value` NULL inside the read-only snapshot: the query must parse, its
    /// tables and columns exist and the reader may read them, and it must not write (PostgreSQL
    /// refuses every write, DDL and row lock in a read-only transaction, even when no row matches).
    func check(_ dataset: Dataset) async throws(DossierError) -> [String] {
        var names: [String] = []
        let connection = try await pool.acquire()
        var failure: DossierError?
        for lookup in dataset.lookups {
            let sql = statements[dataset.id]?[lookup.kind.name] ?? PostgresSQL.positional(lookup.expression).sql
            do {
                var binds = PostgresBindings(capacity: 1)
                binds.appendNull()
                let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: PostgresSnapshotPool.logger)
                for column in rows.columns where !names.contains(column.name) { names.append(column.name) }
                for try await _ in rows {}
                if let missing = context.missingYield(dataset, columns: rows.columns.map(\.name), source: source, in: lookup.location) {
                    failure = missing
                    break
                }
            } catch {
                // A write, a lock or a cancellation is said as in an export; any other server error
                // is the map's query that does not run.
                if let known = refusal(error, lookup: lookup, dataset: dataset) {
                    failure = known
                } else if let psql = error as? PSQLError, psql.code == .server {
                    failure = DossierError(.dataMap, "the query does not run against source '\(source.id)': \(PostgresFailure.serverMessage(psql))",
                                           at: lookup.location)
                } else {
                    failure = self.failure(error, lookup: lookup, dataset: dataset)
                }
                break
            }
        }
        await pool.release(connection, clean: failure == nil)
        if let failure { throw failure }
        return names
    }

    /// A table the lookup reads stayed locked by another session (`lock_timeout`): as a SQLite
    /// source locked by a writer, exit 75, try again later.
    func locked(_ dataset: Dataset, lookup: Lookup) -> DossierError {
        DossierError(.busy, "source '\(source.id)', dataset '\(dataset.id)': a table the lookup reads is locked by another session "
                     + "(waited \(PostgresSnapshotPool.lockTimeout) s); try again later", at: lookup.location)
    }

    /// The server cancelled the lookup: it ran past the source's `timeout` (or an administrator
    /// cancelled it).
    func cancelled(_ dataset: Dataset, lookup: Lookup) -> DossierError {
        DossierError(.sourceUnreadable, "source '\(source.id)', dataset '\(dataset.id)': the server cancelled the lookup "
                     + "(it ran longer than the source's timeout of \(timeout) s, or an administrator cancelled it)", at: lookup.location)
    }

    /// The lookup ran and the server refused it a write, a lock or more time: said in the same
    /// words by `validate` and an export; nil for any other error.
    func refusal(_ error: any Error, lookup: Lookup, dataset: Dataset) -> DossierError? {
        switch PostgresFailure.sqlState(error) {
        case "25006": return Self.writes(lookup)                 // read_only_sql_transaction
        case "55P03": return locked(dataset, lookup: lookup)      // lock_not_available (lock_timeout)
        case "57014": return cancelled(dataset, lookup: lookup)   // query_canceled (statement_timeout)
        default: return nil
        }
    }

    static func writes(_ lookup: Lookup) -> DossierError {
        DossierError(.dataMap, "the query would write to the database; lookups must only read", at: lookup.location)
    }

    /// A failed lookup, in one sentence without the identifier (a server message about a value may
    /// quote it, so only syntax and permission messages are passed on).
    func failure(_ error: any Error, lookup: Lookup, dataset: Dataset) -> DossierError {
        if let known = refusal(error, lookup: lookup, dataset: dataset) { return known }
        if let psql = error as? PSQLError, psql.code == .server {
            return DossierError(.sourceUnreadable, "source '\(source.id)', dataset '\(dataset.id)': the query failed (\(PostgresFailure.serverMessage(psql)))",
                                at: lookup.location)
        }
        return DossierError(.sourceUnreadable, "source '\(source.id)', dataset '\(dataset.id)': \(PostgresFailure.connectionReason(error))",
                            at: lookup.location)
    }

    /// `:value`'s text, sent with no declared type (OID 0) so that the server reads it as the type the
    /// query gives it.
    static func query(_ sql: String, value: String) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 1)
        binds.append(UntypedText(text: value))
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// A row as a record: every column, in the query's order, with its type's meaning.
    static func record(_ row: PostgresRow, types: [UInt32: PostgresValues.ExtraType], dataset: Dataset, source: Source) throws(DossierError) -> DossierModel.Record {
        var fields = Fields()
        for cell in row {
            do {
                fields.append(cell.columnName, try PostgresValues.value(oid: cell.dataType.rawValue, bytes: cell.bytes) { types[$0] })
            } catch {
                throw DossierError(.sourceUnreadable, "source '\(source.id)', dataset '\(dataset.id)', column '\(cell.columnName)': \(error.reason)",
                                   at: dataset.lookups.first?.location)
            }
        }
        return fields
    }
}

