import DossierIdentity
import DossierMap
import DossierModel
import Foundation
import GRDB

/// `kind: sqlite`: a SQLite database read with the data map's queries.
///
/// Its own map key: `path` on the source. Every lookup is a query that binds `:value` and no other
/// parameter (checked when the map is read; the collector also rejects a query that would write).
enum SQLiteKind: SourceKind {
    static let name = "sqlite"
    static let sourceKeys: Set<String> = ["path"]

    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        if key == "path" { source.path = try value.nonEmptyString() }
    }

    static func check(lookup expression: String, at value: MapNode) throws(DossierError) {
        if !SQLText.bindsValue(expression) {
            throw value.fail("the query must use the parameter :value (bound, never spliced)")
        }
        if let other = SQLText.otherParameter(expression) {
            throw value.fail("the query uses the parameter \(other); only :value is bound")
        }
    }

    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        if source.path == nil { throw node.fail("a sqlite source needs a path") }
    }

    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        try SQLiteCollector(source: source, context: context)
    }
}

/// Reads a SQLite database with the data map's queries.
///
/// The file is opened read-only, and the whole run reads inside one deferred transaction: one
/// consistent snapshot, shared by every export of the run (GRDB's queue serialises them).
/// `:value` is always bound, never spliced; a query that would write is rejected by `check`.
/// Connections have `normalize_email(x)` and `normalize_phone(x)`.
final class SQLiteCollector: Collector {
    private let queue: DatabaseQueue
    private let source: Source
    private let file: URL
    private let context: CollectorContext
    /// `normalize_email` and `normalize_phone`, held as long as the connection that calls them.
    private let functions: [NormalizeFunction]

    init(source: Source, context: CollectorContext) throws(DossierError) {
        self.source = source
        self.context = context
        file = context.map.resolve(path: source.path ?? "")
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw .unreadable("the database file does not exist or cannot be read", file: file, source: source.id)
        }
        var config = Configuration()
        config.readonly = true
        // A writer's commit holds the file for a moment: wait for it, a bounded time.
        config.busyMode = .timeout(Self.busyTimeout)
        config.allowsUnsafeTransactions = true
        config.label = "dossier.\(source.id)"
        // Normalised phones are kept between runs in the index folder, when the run may write
        // there (not while `validate` inspects it).
        let functions = [NormalizeFunction(.email, normalizer: context.normalizer),
                         NormalizeFunction(.phone, normalizer: context.normalizer, cacheFolder: context.indexes.writableFolder)]
        self.functions = functions
        // A page cache of 256 KiB, not SQLite's 2 MB: as for lookup indexes (`LookupIndex.open`).
        config.prepareDatabase { db in
            for function in functions { try function.register(on: db) }
            try db.execute(sql: "PRAGMA cache_size = -256")
        }
        do {
            queue = try DatabaseQueue(path: file.path, configuration: config)
            try queue.inDatabase { db in
                try db.execute(sql: "BEGIN DEFERRED TRANSACTION")
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
            }
        } catch {
            if Self.isLocked(error) { throw Self.locked(source: source, file: file) }
            throw .unreadable("cannot open the database (\(Self.reason(error)))", file: file, source: source.id)
        }
    }

    func close() async {
        try? queue.inDatabase { db in if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") } }
        try? queue.close()
        for function in functions { function.save() }
    }

    static let busyTimeout: TimeInterval = 5

    /// SQLITE_BUSY or SQLITE_LOCKED: another program holds the database.
    static func isLocked(_ error: any Error) -> Bool {
        guard let e = error as? DatabaseError else { return false }
        return e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED
    }

    static func locked(source: Source, file: URL) -> DossierError {
        DossierError(.busy, "source '\(source.id)': the database is locked by another program (waited \(Int(busyTimeout)) s); try again later",
                     at: SourceLocation(file: file.path))
    }

    static func reason(_ error: any Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "SQLite error \(e.resultCode.rawValue)" }
        return "\(error)"
    }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (DossierModel.Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        var failure: DossierError?
        do {
            try queue.inDatabase { db in
                for lookup in dataset.lookups {
                    let statement = try db.cachedStatement(sql: lookup.expression)
                    guard statement.isReadonly else { throw Self.writes(lookup) }
                    if let missing = missingYield(dataset, columns: statement.columnNames) { throw missing }
                    for id in identifiers where id.kind == lookup.kind {
                        let cursor = try Row.fetchCursor(statement, arguments: ["value": id.value])
                        while let row = try cursor.next() {
                            do throws(DossierError) { try found(Self.record(row), id) } catch { failure = error; return }
                        }
                    }
                }
            }
        } catch let error as DossierError {
            throw error
        } catch {
            if Self.isLocked(error) { throw Self.locked(source: source, file: file) }
            throw DossierError(.sourceUnreadable, "source '\(source.id)', dataset '\(dataset.id)': the query failed against '\(file.lastPathComponent)' (\(Self.reason(error)))",
                               at: dataset.lookups.first?.location)
        }
        if let failure { throw failure }
    }

    func check(_ dataset: Dataset) async throws(DossierError) -> [String] {
        var names: [String] = []
        for lookup in dataset.lookups {
            do {
                try queue.inDatabase { db in
                    let statement = try db.makeStatement(sql: lookup.expression)
                    guard statement.isReadonly else { throw Self.writes(lookup) }
                    try statement.validateArguments(["value": ""])
                    if let missing = missingYield(dataset, columns: statement.columnNames) { throw missing }
                    for name in statement.columnNames where !names.contains(name) { names.append(name) }
                }
            } catch let error as DossierError {
                throw error
            } catch {
                throw DossierError(.dataMap, "the query does not prepare against '\(file.lastPathComponent)': \(Self.reason(error))",
                                   at: lookup.location)
            }
        }
        return names
    }

    /// A `yields` path whose column the query does not return: it would never give an identifier.
    func missingYield(_ dataset: Dataset, columns: [String]) -> DossierError? {
        context.missingYield(dataset, columns: columns, source: source, in: SourceLocation(file: file.path))
    }

    static func writes(_ lookup: Lookup) -> DossierError {
        DossierError(.dataMap, "the query would write to the database; lookups must only read", at: lookup.location)
    }

    /// A row as a record: every column, in the query's order, with its SQLite storage type.
    static func record(_ row: Row) -> DossierModel.Record {
        var fields = Fields()
        for (index, (name, dbValue)) in row.enumerated() {
            let value: Value
            switch dbValue.storage {
            case .null: value = .null
            case .int64(let i): value = .number(String(i))
            case .double(let d): value = d.isFinite ? .number(Self.text(of: d)) : .string(String(d))
            case .string(let s):
                // Text that is not UTF-8 came back repaired (U+FFFD): its bytes are kept as they are
                // stored instead, as binary, so that no value is changed on its way to the person.
                if Self.holdsReplacementCharacter(s), let bytes = try? row.withUnsafeData(atIndex: index, { $0.map { Data($0) } }),
                   String(validating: bytes, as: UTF8.self) == nil {
                    value = .binary(bytes)
                } else {
                    value = .string(s)
                }
            case .blob(let data): value = .binary(data)
            }
            fields.append(name, value)
        }
        return fields
    }

    /// True when the text holds U+FFFD (EF BF BD in UTF-8), looked for in its bytes: `contains` with
    /// a string argument goes through Foundation's locale-aware search, 1–2 % of a batch's CPU.
    static func holdsReplacementCharacter(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in
            var i = 0
            while i + 2 < b.count {
                if b[i] == 0xEF, b[i + 1] == 0xBF, b[i + 2] == 0xBD { return true }
                i += 1
            }
            return false
        }
    }

    /// The shortest text that reads back as the same double, in JSON's number syntax.
    static func text(of d: Double) -> String {
        "\(d)"
    }
}

