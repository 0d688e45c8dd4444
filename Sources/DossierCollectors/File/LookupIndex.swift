import Crypto
import DossierModel
import Foundation
import GRDB
import GRDBSQLite

/// What a run does with the lookup indexes of file sources.
///
/// ```swift
/// let context = CollectorContext(map: map, normalizer: normalizer, indexes: .use(folder))
/// ```
public enum IndexPolicy: Sendable, Equatable {
    /// Scan the files; no index is read or written.
    case none
    /// Look at the indexes in the folder and say whether each is fresh; read and write none.
    case inspect(URL)
    /// Use a fresh index, rebuild a stale one, scan a file source that has none (single exports).
    case use(URL)
    /// Build what is missing or stale, then use it (`dossier index`, batches).
    case build(URL)

    var folder: URL? {
        switch self {
        case .none: return nil
        case .inspect(let u), .use(let u), .build(let u): return u
        }
    }

    /// The folder when the run may write into it (`use` rebuilds stale indexes, `build` builds);
    /// nil for `inspect`, which writes nothing.
    var writableFolder: URL? {
        switch self {
        case .none, .inspect: return nil
        case .use(let u), .build(let u): return u
        }
    }
}

/// The state of one source's lookup index when the source was opened.
public enum IndexState: Sendable, Equatable {
    /// The run uses no index for this source.
    case notUsed
    /// No index exists.
    case missing
    /// An index exists but no longer describes the files or the map (the reason says which).
    case stale(String)
    /// The index matches the files and the map, and is used.
    case fresh
    /// The index was built (or rebuilt) now.
    case built(IndexBuild)
    /// The source's files cannot be indexed (the reason says why); it is scanned.
    case unsupported(String)
}

/// What building an index took.
public struct IndexBuild: Sendable, Equatable {
    /// Why it was built: `missing`, or the reason the old one was stale.
    public let reason: String
    public let entries: Int
    public let records: Int
    public let bytesRead: UInt64
    public let seconds: Double
}

/// A collector that can keep a lookup index.
public protocol IndexedCollector: Collector {
    var indexState: IndexState { get }
}

/// A byte range of a record in its file.
struct ByteRange: Hashable, Comparable, Sendable {
    let offset: UInt64
    let length: Int
    static func < (a: ByteRange, b: ByteRange) -> Bool { a.offset < b.offset }
}

/// What identifies a file's content without reading all of it: size, modification time, and the
/// SHA-256 of sixteen 4 KiB blocks spread over the file (its first and last included).
struct FileStamp: Equatable {
    let size: UInt64
    let modified: Int64 // nanoseconds since 1970
    let fingerprint: String

    static let blocks = 16
    static let blockSize = 4096

    static func of(_ file: URL) throws -> FileStamp {
        var st = stat()
        guard stat(file.path, &st) == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        let size = UInt64(st.st_size)
        let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        let fd = open(file.path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadNoPermission) }
        defer { close(fd) }
        var hasher = SHA256()
        var block = [UInt8](repeating: 0, count: blockSize)
        let span = size > UInt64(blockSize) ? size - UInt64(blockSize) : 0
        for i in 0..<blocks {
            let at = span * UInt64(i) / UInt64(blocks - 1)
            let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, blockSize, off_t(at)) }
            guard n >= 0 else { throw CocoaError(.fileReadUnknown) }
            hasher.update(data: block[0..<n])
        }
        let digest = Hex.string(hasher.finalize())
        return FileStamp(size: size, modified: modified, fingerprint: digest)
    }
}

/// A source's lookup index: one SQLite file holding, for every dataset and lookup, the normalised
/// value → the byte ranges of the records that hold it. Keys are a 64-bit FNV-1a hash of
/// (dataset, identifier kind, value): a collision only costs reading a record that the caller
/// checks again and drops. A phone text in digits and the usual separators is keyed by its last
/// six digits instead (`StandardNormalizer.phoneTail`, `FileCollector.indexKeys`), found without
/// libphonenumber, which was a fifth of an XML index build.
///
/// Format 3: phone tails, and the default region in the definition.
///
/// The file also records what it was built from (every file's `FileStamp`, and the part of the
/// data map that decides what is indexed); an index that differs in either is stale and never used.
final class LookupIndex: Sendable {
    static let formatVersion = 3
    private let queue: DatabaseQueue

    private init(queue: DatabaseQueue) { self.queue = queue }

    /// The index file of a source in `folder`.
    static func file(for source: Source, in folder: URL) -> URL {
        folder.appendingPathComponent("\(source.id).index.sqlite")
    }

    static func key(dataset: String, kind: IdentifierKind, value: String) -> Int64 {
        key(prefix: keyPrefix(dataset: dataset, kind: kind), value: value)
    }

    /// The hash state after (dataset, kind), which an index build mixes every value into (FNV-1a
    /// is sequential: the same key as `key(dataset:kind:value:)`, without hashing the names again).
    static func keyPrefix(dataset: String, kind: IdentifierKind) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        mix(dataset, into: &hash); mix(kind.name, into: &hash)
        return hash
    }

    static func key(prefix: UInt64, value: String) -> Int64 {
        var hash = prefix
        mix(value, into: &hash)
        return Int64(bitPattern: hash)
    }

    private static func mix(_ s: String, into hash: inout UInt64) {
        for b in s.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ 0) &* 0x0000_0100_0000_01b3
    }

    /// The byte ranges of the records of `dataset` whose `kind` lookup holds `value`.
    func ranges(dataset: String, kind: IdentifierKind, value: String) throws -> [ByteRange] {
        let key = Self.key(dataset: dataset, kind: kind, value: value)
        return try queue.read { db in
            let statement = try db.cachedStatement(sql: "SELECT offset, length FROM entries WHERE key = ?")
            return try Row.fetchAll(statement, arguments: [key]).map { ByteRange(offset: UInt64($0[0] as Int64), length: $0[1]) }
        }
    }

    /// What the format stored for reading the records of `path` back (`RangeScan.done(layout:)`).
    func layout(of path: String) throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT layout FROM files WHERE path = ?", arguments: [path]) }
    }

    func close() { try? queue.close() }

    // MARK: Opening and checking

    /// Why an index cannot be used as it is.
    enum Staleness: Equatable {
        case missing
        case stale(String)
        /// The reason in words, as `dossier index` shows it.
        var reason: String {
            switch self {
            case .missing: return "missing"
            case .stale(let why): return why
            }
        }
    }

    /// Why the index at `url` does not describe `definition` and `stamps`, or nil when it does.
    static func staleness(of url: URL, definition: String, stamps: [String: FileStamp]) -> Staleness? {
        guard FileManager.default.fileExists(atPath: url.path) else { return .missing }
        return reason(of: url, definition: definition, stamps: stamps).map(Staleness.stale)
    }

    private static func reason(of url: URL, definition: String, stamps: [String: FileStamp]) -> String? {
        do {
            var config = Configuration()
            config.readonly = true
            let queue = try DatabaseQueue(path: url.path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db -> String? in
                let meta = Dictionary(try Row.fetchAll(db, sql: "SELECT name, value FROM meta").map { ($0[0] as String, $0[1] as String) },
                                      uniquingKeysWith: { a, _ in a })
                if meta["format"] != String(formatVersion) { return "it was built by another version of Dossier" }
                if meta["definition"] != definition { return "the data map's datasets changed" }
                var stored: [String: FileStamp] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT path, size, modified, fingerprint FROM files") {
                    stored[row[0]] = FileStamp(size: UInt64(row[1] as Int64), modified: row[2], fingerprint: row[3])
                }
                for (path, stamp) in stamps.sorted(by: { $0.key < $1.key }) {
                    guard let old = stored[path] else { return "it does not cover \(URL(fileURLWithPath: path).lastPathComponent)" }
                    if old.size != stamp.size { return "\(URL(fileURLWithPath: path).lastPathComponent) changed size" }
                    if old.modified != stamp.modified { return "\(URL(fileURLWithPath: path).lastPathComponent) was modified" }
                    if old.fingerprint != stamp.fingerprint { return "\(URL(fileURLWithPath: path).lastPathComponent) changed content" }
                }
                return stored.count == stamps.count ? nil : "it covers other files"
            }
        } catch {
            return "it cannot be read"
        }
    }

    static func open(_ url: URL) throws -> LookupIndex {
        var config = Configuration()
        config.readonly = true
        // SQLite's page cache, 2 MB a connection by default, held pages the kernel's cache holds
        // anyway: a batch of 1,000 requests was no faster with it (8.8 against 8.4 s, 5 runs each)
        // and peaked 7 MB higher.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = -256") }
        return LookupIndex(queue: try DatabaseQueue(path: url.path, configuration: config))
    }

    // MARK: Building

    /// One entry: the key and where the record is.
    struct Entry {
        let key: Int64
        let offset: UInt64
        let length: Int32
    }

    /// Writes a new index file at `url` (under a temporary name, renamed when complete) from the entries.
    static func write(_ entries: inout [Entry], to url: URL, definition: String, stamps: [String: FileStamp],
                      layouts: [String: String]) throws {
        // In key order, which the table's primary key (key, offset) keeps: SQLite inserts in order
        // fastest. The order within a key does not matter to it (the table orders the rows).
        entries.sort { $0.key < $1.key }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let temporary = Scratch.partialURL(for: url)
        let token = Scratch.register(temporary)
        defer { try? FileManager.default.removeItem(at: temporary); Scratch.release(token) }
        do {
            guard Scratch.createPrivateFile(temporary) else { throw CocoaError(.fileWriteNoPermission) }
            let queue = try DatabaseQueue(path: temporary.path)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 8192")
                try db.inTransaction {
                    try db.execute(sql: """
                        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                        CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, modified INTEGER NOT NULL, fingerprint TEXT NOT NULL,
                                            layout TEXT);
                        CREATE TABLE entries (key INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
                                              PRIMARY KEY (key, offset)) WITHOUT ROWID;
                        """)
                    try db.execute(sql: "INSERT INTO meta VALUES ('format', ?), ('definition', ?)", arguments: [String(formatVersion), definition])
                    for (path, s) in stamps {
                        try db.execute(sql: "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
                                       arguments: [path, Int64(s.size), s.modified, s.fingerprint, layouts[path]])
                    }
                    // Bound and stepped through SQLite's C API: GRDB's `execute(arguments:)` boxes every
                    // value into `StatementArguments`, which was half of a JSON Lines index build. Rows
                    // go 256 to a statement (768 variables, under SQLite's oldest limit of 999): each
                    // statement's own cost (a third of the build) is paid once per 256 entries. The
                    // rows are the same, in the same order, each ignored when already there.
                    let batch = 256
                    let many = try db.makeStatement(sql: "INSERT OR IGNORE INTO entries VALUES "
                        + Array(repeating: "(?, ?, ?)", count: batch).joined(separator: ", "))
                    let one = try db.makeStatement(sql: "INSERT OR IGNORE INTO entries VALUES (?, ?, ?)")
                    var next = 0
                    while next < entries.count {
                        let statement = entries.count - next >= batch ? many.sqliteStatement : one.sqliteStatement
                        let rows = statement == many.sqliteStatement ? batch : 1
                        for r in 0..<rows {
                            let e = entries[next + r]
                            let at = Int32(3 * r)
                            sqlite3_bind_int64(statement, at + 1, e.key)
                            sqlite3_bind_int64(statement, at + 2, Int64(e.offset))
                            sqlite3_bind_int64(statement, at + 3, Int64(e.length))
                        }
                        let rc = sqlite3_step(statement)
                        sqlite3_reset(statement)
                        guard rc == SQLITE_DONE else { throw DatabaseError(resultCode: ResultCode(rawValue: rc)) }
                        next += rows
                    }
                    return .commit
                }
            }
            try queue.close()
            chmod(temporary.path, 0o600)
            if rename(temporary.path, url.path) != 0 { throw CocoaError(.fileWriteUnknown) }
        }
    }
}
