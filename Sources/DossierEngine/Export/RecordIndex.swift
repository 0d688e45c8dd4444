import DossierFormats
import DossierModel
import Foundation
import GRDB
import GRDBSQLite

/// What a dataset store knows of each record it holds, apart from the record itself (which is in
/// the store's spill file): its identity (so that a record found twice is kept once), its key in
/// output order, where its bytes are, and which identifiers found it.
///
/// A small store keeps this in memory (`InMemoryRecordIndex`); a store that outgrows
/// `DatasetStore.memoryLimit` records moves it into an SQLite file in the export's staging folder
/// (`ScratchRecordIndex`), so that an export's memory does not grow with the person's records.
/// Both give the same answers in the same order; `RecordIndexTests` runs one suite on both.
///
/// Entries are numbered in the order they are appended (0, 1, …); identifiers are numbers the store
/// gives them. The output order is by `key` (bytes compared as unsigned, a shorter prefix first),
/// then by entry number.
protocol RecordIndex: AnyObject {
    /// The records appended.
    var count: Int { get }
    /// The entry of the record with this identity, if one was appended.
    func entry(identity: String) throws(DossierError) -> Int?
    /// Appends the next entry.
    func append(identity: String, key: [UInt8], offset: UInt64, length: Int) throws(DossierError)
    /// Notes that an identifier found an entry in a round; false when that identifier had already
    /// found that entry (the first round is kept).
    func match(entry: Int, identifier: Int, round: Int) throws(DossierError) -> Bool
    /// The places (offset, length) of the first `limit` records in output order.
    func forEachPlace(limit: Int, _ body: (UInt64, Int) throws(DossierError) -> Void) throws(DossierError)
    /// Every match in the order noted, with the position of its record in output order.
    func forEachMatch(_ body: (_ identifier: Int, _ round: Int, _ position: Int) throws(DossierError) -> Void) throws(DossierError)
}

/// The entries in memory: a few hundred bytes a record, for stores of up to `DatasetStore.memoryLimit`.
final class InMemoryRecordIndex: RecordIndex {
    private struct Entry {
        let key: [UInt8]
        let offset: UInt64
        let length: Int
    }
    private var entries: [Entry] = []
    private var byIdentity: [String: Int] = [:]
    private var matches: [(entry: Int, identifier: Int, round: Int)] = []
    private struct Pair: Hashable { let entry: Int, identifier: Int }
    private var matched: Set<Pair> = []
    private var order: [Int]?

    var count: Int { entries.count }

    func entry(identity: String) -> Int? { byIdentity[identity] }

    func append(identity: String, key: [UInt8], offset: UInt64, length: Int) {
        byIdentity[identity] = entries.count
        entries.append(Entry(key: key, offset: offset, length: length))
        order = nil
    }

    func match(entry: Int, identifier: Int, round: Int) -> Bool {
        guard matched.insert(Pair(entry: entry, identifier: identifier)).inserted else { return false }
        matches.append((entry, identifier, round))
        return true
    }

    /// The entries in output order.
    private func sorted() -> [Int] {
        if let order { return order }
        let sorted = entries.indices.sorted { a, b in
            let ka = entries[a].key, kb = entries[b].key
            return ka.lexicographicallyPrecedes(kb) || (ka == kb && a < b)
        }
        order = sorted
        return sorted
    }

    func forEachPlace(limit: Int, _ body: (UInt64, Int) throws(DossierError) -> Void) throws(DossierError) {
        for entry in sorted().prefix(limit) { try body(entries[entry].offset, entries[entry].length) }
    }

    func forEachMatch(_ body: (Int, Int, Int) throws(DossierError) -> Void) throws(DossierError) {
        var position = [Int](repeating: 0, count: entries.count)
        for (p, entry) in sorted().enumerated() { position[entry] = p }
        for m in matches { try body(m.identifier, m.round, position[m.entry]) }
    }

    /// Hands every entry and match, in order, to another index (the store outgrew memory).
    func move(to other: any RecordIndex) throws(DossierError) {
        let identityOf = byIdentity.reduce(into: [String](repeating: "", count: entries.count)) { $0[$1.value] = $1.key }
        for (i, e) in entries.enumerated() { try other.append(identity: identityOf[i], key: e.key, offset: e.offset, length: e.length) }
        for m in matches { _ = try other.match(entry: m.entry, identifier: m.identifier, round: m.round) }
    }
}

/// The entries in an SQLite file in the staging folder: memory stays within SQLite's page cache
/// (256 KiB) and its sorter's, whatever the number of records; the file goes with the staging folder.
final class ScratchRecordIndex: RecordIndex {
    let url: URL
    private let queue: DatabaseQueue
    private var appended = 0
    private var ranked = false
    private var finding: Statement!
    private var appending: Statement!
    private var matching: Statement!

    init(url: URL) throws(DossierError) {
        self.url = url
        do {
            guard Scratch.createPrivateFile(url) else { throw CocoaError(.fileWriteNoPermission) }
            var config = Configuration()
            config.allowsUnsafeTransactions = true
            config.label = "dossier.scratch"
            queue = try DatabaseQueue(path: url.path, configuration: config)
            try queue.inDatabase { db in
                // A scratch file read by this process alone, removed with the staging folder: no
                // journal, no syncs; temporary tables and the sorter's runs on disk, not in memory.
                try db.execute(sql: """
                    PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
                    PRAGMA cache_size = -256; PRAGMA temp_store = FILE;
                    CREATE TABLE entries (seq INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE, key BLOB NOT NULL,
                                          offset INTEGER NOT NULL, length INTEGER NOT NULL);
                    CREATE TABLE matches (entry INTEGER NOT NULL, identifier INTEGER NOT NULL, round INTEGER NOT NULL,
                                          UNIQUE (entry, identifier));
                    BEGIN;
                    """)
                finding = try db.makeStatement(sql: "SELECT seq FROM entries WHERE identity = ?")
                appending = try db.makeStatement(sql: "INSERT INTO entries VALUES (?, ?, ?, ?, ?)")
                matching = try db.makeStatement(sql: "INSERT OR IGNORE INTO matches VALUES (?, ?, ?)")
            }
        } catch {
            throw Self.failure(error, url)
        }
    }

    deinit {
        finding = nil; appending = nil; matching = nil
        try? queue.close()
    }

    static func failure(_ error: any Error, _ url: URL) -> DossierError {
        if let error = error as? DossierError { return error }
        let reason = (error as? DatabaseError)?.message ?? "\(error)"
        return DossierError(.outputWrite, "cannot write the export's staging index (\(reason))", at: SourceLocation(file: url.path))
    }

    /// Runs `body` on the connection; SQLite's C API binds and steps, as `LookupIndex` does, since
    /// GRDB's `StatementArguments` would box every value of every record.
    private func run<T>(_ body: (Database) throws -> T) throws(DossierError) -> T {
        do { return try queue.inDatabase(body) } catch { throw Self.failure(error, url) }
    }

    private static func step(_ statement: OpaquePointer) throws -> Int32 {
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_ROW || rc == SQLITE_DONE else {
            sqlite3_reset(statement)
            throw DatabaseError(resultCode: ResultCode(rawValue: rc))
        }
        return rc
    }

    var count: Int { appended }

    func entry(identity: String) throws(DossierError) -> Int? {
        let s = finding.sqliteStatement
        return try run { _ in
            sqlite3_bind_text(s, 1, identity, -1, SQLITE_TRANSIENT)
            defer { sqlite3_reset(s) }
            return try Self.step(s) == SQLITE_ROW ? Int(sqlite3_column_int64(s, 0)) : nil
        }
    }

    func append(identity: String, key: [UInt8], offset: UInt64, length: Int) throws(DossierError) {
        let s = appending.sqliteStatement
        let seq = appended
        try run { _ in
            sqlite3_bind_int64(s, 1, Int64(seq))
            sqlite3_bind_text(s, 2, identity, -1, SQLITE_TRANSIENT)
            _ = key.withUnsafeBytes { sqlite3_bind_blob(s, 3, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), SQLITE_TRANSIENT) }
            sqlite3_bind_int64(s, 4, Int64(offset))
            sqlite3_bind_int64(s, 5, Int64(length))
            defer { sqlite3_reset(s) }
            _ = try Self.step(s)
        }
        appended += 1
        ranked = false
    }

    func match(entry: Int, identifier: Int, round: Int) throws(DossierError) -> Bool {
        let s = matching.sqliteStatement
        return try run { db in
            sqlite3_bind_int64(s, 1, Int64(entry))
            sqlite3_bind_int64(s, 2, Int64(identifier))
            sqlite3_bind_int64(s, 3, Int64(round))
            defer { sqlite3_reset(s) }
            _ = try Self.step(s)
            return sqlite3_changes(db.sqliteConnection) == 1
        }
    }

    /// Numbers the entries in output order (`ranked.position`, from 1), once after the last append.
    private func rank() throws(DossierError) {
        guard !ranked else { return }
        try run { db in
            try db.execute(sql: """
                DROP TABLE IF EXISTS ranked;
                CREATE TABLE ranked (position INTEGER PRIMARY KEY, seq INTEGER NOT NULL UNIQUE);
                INSERT INTO ranked (seq) SELECT seq FROM entries ORDER BY key, seq;
                """)
        }
        ranked = true
    }

    func forEachPlace(limit: Int, _ body: (UInt64, Int) throws(DossierError) -> Void) throws(DossierError) {
        try rank()
        try each("SELECT e.offset, e.length FROM ranked r JOIN entries e ON e.seq = r.seq ORDER BY r.position LIMIT \(limit)") { s throws(DossierError) in
            try body(UInt64(sqlite3_column_int64(s, 0)), Int(sqlite3_column_int64(s, 1)))
        }
    }

    func forEachMatch(_ body: (Int, Int, Int) throws(DossierError) -> Void) throws(DossierError) {
        try rank()
        try each("SELECT m.identifier, m.round, r.position - 1 FROM matches m JOIN ranked r ON r.seq = m.entry ORDER BY m.rowid") { s throws(DossierError) in
            try body(Int(sqlite3_column_int64(s, 0)), Int(sqlite3_column_int64(s, 1)), Int(sqlite3_column_int64(s, 2)))
        }
    }

    /// Steps through the rows of `sql`, one at a time.
    private func each(_ sql: String, _ row: (OpaquePointer) throws(DossierError) -> Void) throws(DossierError) {
        var failure: DossierError?
        try run { db in
            let statement = try db.makeStatement(sql: sql)
            let s = statement.sqliteStatement
            defer { sqlite3_reset(s) }
            while try Self.step(s) == SQLITE_ROW {
                do throws(DossierError) { try row(s) } catch { failure = error; return }
            }
        }
        if let failure { throw failure }
    }
}

/// SQLite copies a bound value at once (the Swift buffer it was given does not outlive the call).
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
