import Crypto
import DossierModel
import Foundation

/// The audit trail's hash chain, the same for every ledger backend: each row's hash is the SHA-256
/// of the previous row's hash and the row's canonical content, so that an edit, a deletion or an
/// insertion made around the database's guards shows when the chain is recomputed.
///
/// ```swift
/// var checker = AuditChain.Checker()
/// for row in rows { if !checker.check(row) { break } }
/// checker.verdict   // rows read, and the first row that breaks the chain
/// ```
public enum AuditChain {
    /// The `prev_hash` of the first row.
    public static let genesis = String(repeating: "0", count: 64)

    /// A timestamp as the ledgers store and hash it: ISO 8601, UTC, with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        var f = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        f.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(f)
    }

    /// Reads a timestamp written by `timestamp` (or without fractional seconds).
    public static func date(_ text: String) -> Date {
        if let date = Date(utcTimestamp: text) { return date }
        return (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? (try? Date(text, strategy: .iso8601)) ?? Date(timeIntervalSince1970: 0)
    }

    /// An audit row's `detail`: its pairs as one canonical JSON object.
    public static func detailText(_ detail: [(String, String)]) -> String {
        Value.object(Fields(detail.map { ($0.0, .string($0.1)) })).jsonText(canonical: true)
    }

    /// SHA-256 over the previous hash and the row's canonical content.
    public static func hash(seq: Int, at: String, request: String?, action: String, detail: String, prev: String) -> String {
        let content = Value.object(Fields([
            ("seq", .number(String(seq))), ("at", .string(at)), ("request_id", request.map { .string($0) } ?? .null),
            ("action", .string(action)), ("detail", .string(detail)),
        ])).jsonText(canonical: true)
        let digest = SHA256.hash(data: Data((prev + "\n" + content).utf8))
        return Hex.string(digest)
    }

    /// One stored row, as read back for checking or export.
    public struct Row: Sendable {
        public var seq: Int, at: String, request: String?, action: String, detail: String, prevHash: String, hash: String
        public init(seq: Int, at: String, request: String?, action: String, detail: String, prevHash: String, hash: String) {
            self.seq = seq; self.at = at; self.request = request; self.action = action; self.detail = detail
            self.prevHash = prevHash; self.hash = hash
        }

        /// The row as `audit export` prints it.
        public var value: Value {
            let parsed = (try? JSON.parse(detail)) ?? .string(detail)
            return .object(Fields([
                ("seq", .number(String(seq))), ("at", .string(at)), ("request_id", request.map { .string($0) } ?? .null),
                ("action", .string(action)), ("detail", parsed), ("prev_hash", .string(prevHash)), ("hash", .string(hash)),
            ]))
        }
    }

    /// Recomputes the chain row by row, in `seq` order, and stops at the first break.
    public struct Checker {
        public private(set) var verdict = AuditVerdict(rows: 0, firstBreak: nil)
        private var expectedSeq = 1
        private var prev = AuditChain.genesis
        public init() {}

        /// False when `row` breaks the chain (the verdict then names it); read no further rows.
        public mutating func check(_ row: Row) -> Bool {
            verdict.rows += 1
            let seq = row.seq
            if seq != expectedSeq {
                verdict.firstBreak = (seq, seq > expectedSeq
                    ? "row \(expectedSeq)\(seq - expectedSeq > 1 ? "–\(seq - 1)" : "") is missing before it (deleted)"
                    : "it is out of order (inserted)")
                return false
            }
            if row.prevHash != prev {
                verdict.firstBreak = (seq, "it does not follow the row before it (that row was edited, or this one inserted out of order)")
                return false
            }
            if AuditChain.hash(seq: seq, at: row.at, request: row.request, action: row.action, detail: row.detail, prev: row.prevHash) != row.hash {
                verdict.firstBreak = (seq, "its content was edited after it was written")
                return false
            }
            prev = row.hash
            expectedSeq += 1
            return true
        }
    }
}
