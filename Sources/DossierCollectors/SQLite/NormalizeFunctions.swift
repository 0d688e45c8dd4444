import DossierIdentity
import DossierModel
import Foundation
import GRDB
import GRDBSQLite

/// `normalize_email(x)` and `normalize_phone(x)` in a source's SQL: a query such as
/// `WHERE normalize_phone(phone) = :value` calls the function for every row of the table on every
/// lookup. The run reads one snapshot, so each stored text is normalised once and remembered (a
/// batch looks up thousands of people in the same rows), and the function is registered with
/// SQLite's C interface: it reads the stored bytes where SQLite holds them, and a phone written
/// with digits and the usual separators is remembered by its key packed into two integers
/// (`StandardNormalizer.phoneKey`: one entry a number, however written). Through GRDB's
/// `DatabaseFunction`, whose arguments and result are boxed values and strings, the calls were a
/// tenth of a batch's CPU (the bench's 8,188 contacts scanned for each phone looked up).
///
/// The value is the normaliser's for a TEXT (or UTF-8 BLOB) argument, NULL for any other
/// (NULL, a number): as `String.fromDatabaseValue` reads it.
final class NormalizeFunction: @unchecked Sendable {
    let name: String
    private let kind: IdentifierKind
    private let normalizer: any IdentifierNormalizer
    /// Phones by their packed key: only when the normaliser is the standard one, whose result
    /// depends on the key alone.
    private let byPhoneKey: Bool
    private let lock = NSLock()
    private var byKey: [PackedKey: [UInt8]?] = [:]
    private var byText: [String: [UInt8]?] = [:]
    /// At most this many texts remembered (then forgotten all at once).
    private let limit = 1 << 20

    /// Where phones normalised by earlier runs are kept (`KeptPhones`): read on the first call, written
    /// by `save()` when this run normalised phones it did not find there. Nil: nothing is kept.
    private let cache: (url: URL, region: String, identity: String)?
    private var cacheRead = false
    /// Phones this run gave to libphonenumber.
    private var computed = 0

    init(_ kind: IdentifierKind, normalizer: any IdentifierNormalizer, cacheFolder: URL? = nil) {
        self.kind = kind
        self.normalizer = normalizer
        name = "normalize_\(kind.name)"
        byPhoneKey = kind == .phone && normalizer is StandardNormalizer
        if byPhoneKey, let cacheFolder, let region = (normalizer as? StandardNormalizer)?.defaultRegion,
           let identity = StandardNormalizer.phoneLibraryIdentity {
            cache = (KeptPhones.url(in: cacheFolder, region: region), region, identity)
        } else {
            cache = nil
        }
    }

    /// Writes the phones of this run and of the cache it read to the cache, when this run
    /// normalised any it did not find there. Called when the run closes the source.
    func save() {
        guard let cache else { return }
        let entries: [PackedKey: [UInt8]?]? = lock.withLock { computed > 0 ? byKey : nil }
        guard let entries else { return }
        KeptPhones.save(entries, to: cache.url, region: cache.region, identity: cache.identity)
    }

    /// Called under the lock, once: what earlier runs normalised.
    private func readCache() {
        cacheRead = true
        guard let cache, let entries = KeptPhones.load(cache.url, region: cache.region, identity: cache.identity) else { return }
        byKey.merge(entries) { current, _ in current }
    }

    /// Registers the function on the connection; `self` must outlive it (the collector holds both).
    func register(on db: Database) throws {
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, name, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, Unmanaged.passUnretained(self).toOpaque(),
            { context, _, arguments in
                let function = Unmanaged<NormalizeFunction>.fromOpaque(sqlite3_user_data(context)!).takeUnretainedValue()
                function.call(context, arguments![0])
            }, nil, nil, nil)
        guard rc == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot register \(name)") }
    }

    private func call(_ context: OpaquePointer?, _ argument: OpaquePointer?) {
        let type = sqlite3_value_type(argument)
        guard type == SQLITE_TEXT || type == SQLITE_BLOB else { sqlite3_result_null(context); return }
        // A TEXT up to its first NUL, as GRDB reads one (`String(cString:)`); a BLOB whole.
        let start = type == SQLITE_TEXT ? UnsafeRawPointer(sqlite3_value_text(argument)) : sqlite3_value_blob(argument)
        let count = start == nil ? 0 : type == SQLITE_TEXT ? strlen(start!.assumingMemoryBound(to: CChar.self)) : Int(sqlite3_value_bytes(argument))
        let bytes = UnsafeBufferPointer(start: start?.assumingMemoryBound(to: UInt8.self), count: count)
        let result: [UInt8]?
        if byPhoneKey, let key = PackedKey(phone: bytes) {
            if let hit = lock.withLock({ () -> [UInt8]?? in
                if !cacheRead { readCache() }
                return byKey[key]
            }) { result = hit } else {
                result = normalized(bytes)
                lock.withLock { computed += 1; remember { byKey[key] = .some(result) } }
            }
        } else {
            // A TEXT's invalid bytes are replaced (as `String(cString:)` does); a BLOB that is no
            // UTF-8 is no text (as `String.fromDatabaseValue` reads it).
            guard let text = type == SQLITE_TEXT ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self) else {
                sqlite3_result_null(context); return
            }
            if let hit = lock.withLock({ byText[text] }) { result = hit } else {
                result = normalizer.normalize(text, as: kind).map { Array($0.utf8) }
                lock.withLock { remember { byText[text] = .some(result) } }
            }
        }
        guard let result else { sqlite3_result_null(context); return }
        result.withUnsafeBufferPointer { out in
            // SQLITE_TRANSIENT: SQLite copies the bytes.
            sqlite3_result_text(context, UnsafeRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(out.count),
                                unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
    }

    private func normalized(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        normalizer.normalize(String(decoding: bytes, as: UTF8.self), as: kind).map { Array($0.utf8) }
    }

    /// Called under the lock.
    private func remember(_ body: () -> Void) {
        if byKey.count + byText.count >= limit { byKey.removeAll(keepingCapacity: true); byText.removeAll(keepingCapacity: true) }
        body()
    }
}

/// `StandardNormalizer.phoneKey` of a text, packed: four bits a symbol (a digit as 1...10, the
/// leading `+` as 11), at most 32 symbols. Nil where `phoneKey` is nil or the key is longer.
struct PackedKey: Hashable {
    var high: UInt64 = 0
    var low: UInt64 = 0

    init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    init?(phone bytes: UnsafeBufferPointer<UInt8>) {
        var symbols = 0
        func push(_ nibble: UInt64) -> Bool {
            guard symbols < 32 else { return false }
            high = (high << 4) | (low >> 60)
            low = (low << 4) | nibble
            symbols += 1
            return true
        }
        for b in bytes {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): guard push(UInt64(b - UInt8(ascii: "0")) + 1) else { return nil }
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "/"): continue
            case UInt8(ascii: "+") where symbols == 0: guard push(11) else { return nil }
            default: return nil
            }
        }
    }
}
