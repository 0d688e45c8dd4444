import Crypto
import DossierIdentity
import DossierModel
import Foundation

/// Normalised phones kept between runs, in the run's index folder (`phones-<REGION>.cache`), for
/// `normalize_phone` in a SQLite source's lookups: such a lookup normalises every row's phone, and
/// a single export pays libphonenumber for each of them (6,614 numbers, a third of the bench's
/// export of a person with 1,000 records).
///
/// The file is valid only for the region and `StandardNormalizer.phoneLibraryIdentity` (the
/// libphonenumber and the program that made it), and only whole: its last 32 bytes are the SHA-256
/// of the rest. A file that is not so is ignored (and replaced at the end of the run), never read
/// in part: a wrong entry could match someone else's row to the person.
///
/// Layout: the header `dossier-phones 1\n<region>\n<identity>\n`, then per entry the phone's key
/// (`PackedKey`, high then low, little-endian), one byte of length (255: not a phone number) and
/// that many bytes of E.164; then the digest.
enum KeptPhones {
    /// At most this many entries are kept (about 8 MiB).
    static let limit = 1 << 18
    /// The longest E.164 form kept (a key holds at most 32 symbols, and no extension).
    static let longest = 32

    static func url(in folder: URL, region: String) -> URL {
        folder.appendingPathComponent("phones-\(region).cache")
    }

    static func header(region: String, identity: String) -> [UInt8] {
        Array("dossier-phones 1\n\(region)\n\(identity)\n".utf8)
    }

    /// The entries of the file at `url`, or nil when it is missing, damaged or made by another
    /// libphonenumber, program or region.
    static func load(_ url: URL, region: String, identity: String) -> [PackedKey: [UInt8]?]? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        let head = header(region: region, identity: identity)
        // Bounded: a file larger than the limit allows is not ours to read.
        let most = head.count + limit * (16 + 1 + longest) + 32
        guard let data = try? handle.read(upToCount: most + 1), data.count <= most, data.count >= head.count + 32 else { return nil }
        let bytes = [UInt8](data)
        let body = bytes[..<(bytes.count - 32)]
        guard Array(SHA256.hash(data: body)) == Array(bytes[(bytes.count - 32)...]),
              body.starts(with: head) else { return nil }
        var entries: [PackedKey: [UInt8]?] = [:]
        var i = head.count
        func word(_ at: Int) -> UInt64 {
            var w: UInt64 = 0
            for k in (0..<8).reversed() { w = (w << 8) | UInt64(body[at + k]) }
            return w
        }
        while i < body.endIndex {
            guard i + 17 <= body.endIndex else { return nil }
            let key = PackedKey(high: word(i), low: word(i + 8))
            let length = Int(body[i + 16])
            i += 17
            if length == 255 { entries[key] = .some(nil); continue }
            guard length <= longest, i + length <= body.endIndex else { return nil }
            entries[key] = .some(Array(body[i..<(i + length)]))
            i += length
        }
        guard entries.count <= limit else { return nil }
        return entries
    }

    /// Writes `entries` (at most `limit` of them) to `url` whole: under a temporary name, then
    /// renamed, so a reader sees the old file or the new one. A cache: failures are ignored.
    static func save(_ entries: [PackedKey: [UInt8]?], to url: URL, region: String, identity: String, limit: Int = KeptPhones.limit) {
        var out = header(region: region, identity: identity)
        var written = 0
        for (key, value) in entries.sorted(by: { ($0.key.high, $0.key.low) < ($1.key.high, $1.key.low) }) {
            if written == limit { break }
            if let value, value.count > longest { continue }
            for w in [key.high, key.low] { for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: w >> (8 * k))) } }
            if let value {
                out.append(UInt8(value.count))
                out.append(contentsOf: value)
            } else {
                out.append(255)
            }
            written += 1
        }
        out.append(contentsOf: SHA256.hash(data: out))
        // Phone numbers are personal data: the file is the owner's alone, as the indexes are.
        let temporary = Scratch.partialURL(for: url)
        let token = Scratch.register(temporary)
        defer { Scratch.release(token) }
        guard Scratch.createPrivateFile(temporary) else { return }
        do {
            let handle = try FileHandle(forWritingTo: temporary)  // closed when released, should a write fail
            try handle.write(contentsOf: out)
            try handle.close()
            guard rename(temporary.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            unlink(temporary.path)
        }
    }
}
