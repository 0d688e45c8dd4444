import DossierArchive
import DossierModel
import Foundation

/// What to export, for whom, and where.
public struct ExportRequest: Sendable {
    /// The identifiers as given: kind and raw text.
    public var identifiers: [(kind: IdentifierKind, text: String)]
    public var format: ArchiveFormat
    public var outputDirectory: URL
    public var requestID: String
    /// The time the bundle speaks for; also every archive entry's time.
    public var asOf: Date
    public var language: String?
    /// False for `dossier export` (an ad-hoc run outside the ledger).
    public var isDelivery: Bool
    /// Access exports everything (third-party fields withheld); portability only portable fields.
    public var kind: RequestKind = .access
    /// The copy number, for deliveries.
    public var copy: Int?
    /// The archive's file name; default `dossier-<request id>.<ext>`.
    public var archiveName: String?
    /// False to assemble the bundle and compute its fingerprint without writing an archive.
    public var pack = true
    /// Where to leave the whole bundle as a folder instead of packing it (`request review`); it must
    /// not exist yet. The folder is made private (0700).
    public var unpackedInto: URL?
    /// The last day the delivered archive is kept, said in its manifest.
    public var expiresOn: Day?
    /// Fields withheld from this request's bundle by the person who reviewed it (`request review
    /// --redact`), each value replaced by `Redaction.reviewMarker`; listed, with the reason, in the
    /// manifest.
    public var redactions: ReviewRedactions?
    /// Encrypts the zip with AES-256 under this passphrase.
    public var passphrase: String?
    /// Splits the bundle into archives that each open on their own, each holding at most this many
    /// bytes of files (a larger file gets a part of its own).
    public var splitSize: Int?
    /// Starts every CSV with a UTF-8 byte order mark, for spreadsheet programs that need one.
    public var csvBOM = false
    /// False to leave the finished archives under their temporary names (`ExportResult.unpublished`),
    /// for a caller that renames them as part of its own commit.
    public var publish = true

    public init(identifiers: [(kind: IdentifierKind, text: String)], format: ArchiveFormat = .zip,
                outputDirectory: URL, requestID: String, asOf: Date, language: String? = nil, isDelivery: Bool = false,
                kind: RequestKind = .access) {
        self.identifiers = identifiers; self.format = format; self.outputDirectory = outputDirectory
        self.requestID = requestID; self.asOf = asOf; self.language = language; self.isDelivery = isDelivery
        self.kind = kind
    }

    /// The longest request id: it names files, within the 255 bytes of a file name.
    public static let maxRequestIDLength = 100

    /// True when `id` can name a request (and so an archive): letters, digits, `.`, `_`, `-`; no leading dot.
    public static func isValidRequestID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= maxRequestIDLength && !id.hasPrefix(".")
            && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}

/// The outcome of an export.
public struct ExportResult: Sendable {
    /// The archive written (the first part when split); nil when the request asked not to pack.
    public var archive: URL? { parts.first }
    /// Every archive written, in order: one, or the parts of a split bundle.
    public let parts: [URL]
    /// The archives still under their temporary names when the request asked not to publish them.
    public var unpublished: [FinishedArchive] = []
    /// The first archive's SHA-256 and size.
    public let archiveSHA256: String?
    public let archiveSize: Int?
    /// Every archive's SHA-256 and size, in the order of `parts`.
    public var partDigests: [(sha256: String, size: Int)] = []
    /// SHA-256 over the data files' paths and hashes: what the person's data is, without times or ids.
    public let fingerprint: String
    public let requestID: String
    /// Records per `source/dataset`, zero counts included.
    public let counts: [(dataset: String, count: Int)]
    public let rounds: Int
    public let capped: Bool
    /// Per `source/dataset` with records: each identifier that found some, with how many records.
    public var foundBy: [(dataset: String, identifiers: [(identifier: Identifier, records: Int)])] = []
    /// The bundle's folder when the request asked for it unpacked.
    public var bundleFolder: URL?
    /// Every identifier the resolution knew of in the end, the given ones first.
    public var identifiers: [Identifier] = []
    public var hasData: Bool { counts.contains { $0.count > 0 } }
}
