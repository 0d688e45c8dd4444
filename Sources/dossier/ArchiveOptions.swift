import ArgumentParser
import DossierArchive
import DossierModel
import Foundation

extension ArchiveFormat: ExpressibleByArgument {}

/// How the bundle is packed: format, encryption, CSV byte order mark, parts.
struct ArchiveOptions: ParsableArguments {
    @Option(name: .long, help: "Archive format: zip, tar.gz or tar.zst.")
    var format: ArchiveFormat = .zip

    @Flag(name: .long, help: "Encrypt the zip with AES-256. A passphrase is generated and printed once on stderr (7-Zip opens such zips; the file manager built into Windows does not).")
    var encrypt = false

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("Read the passphrase from the first line of this file instead of generating one (implies --encrypt).", valueName: "file"))
    var passphraseFile: String?

    @Flag(name: .customLong("csv-bom"), help: "Start every CSV with a UTF-8 byte order mark, for spreadsheet programs that need one.")
    var csvBOM = false

    @Option(name: .customLong("split-size"), help: ArgumentHelp("Split into archives that each open on their own, each holding at most this much (2G, 500M, 100K); every part's path is printed, in order.", valueName: "size"))
    var splitSize: String?

    /// The packing options as given, for a hint that works when pasted (a generated passphrase is
    /// not repeated: `--encrypt` makes a new one).
    var pastable: String {
        var s = format == .zip ? "" : " --format \(format.rawValue)"
        if let passphraseFile { s += " --passphrase-file \(Shell.quoted(passphraseFile))" } else if encrypt { s += " --encrypt" }
        if csvBOM { s += " --csv-bom" }
        if let splitSize { s += " --split-size \(Shell.quoted(splitSize))" }
        return s
    }

    /// `--split-size` in bytes, if given.
    func splitBytes() throws(DossierError) -> Int? {
        try splitSize.map { s throws(DossierError) in try parseSize(s) }
    }

    /// The passphrase to encrypt with, if any; a generated one is printed once on stderr.
    func passphrase() throws(DossierError) -> String? {
        if let passphraseFile {
            guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8) else {
                throw DossierError(.usage, "cannot read the passphrase file: \(Unreadable.reason(passphraseFile))", at: SourceLocation(file: passphraseFile))
            }
            let first = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
            guard first.count >= 8 else {
                throw DossierError(.usage, "the passphrase must have at least 8 characters", at: SourceLocation(file: passphraseFile))
            }
            guard format == .zip else { throw DossierError(.usage, "only zip archives can be encrypted; use --format zip") }
            return first
        }
        guard encrypt else { return nil }
        guard format == .zip else { throw DossierError(.usage, "only zip archives can be encrypted; use --format zip") }
        let generated = Self.generatePassphrase()
        FileHandle.standardError.write(Data("passphrase: \(generated)\n".utf8))
        return generated
    }

    /// Six groups of five characters from an alphabet without look-alikes (about 150 bits).
    static func generatePassphrase() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789")
        var rng = SystemRandomNumberGenerator()
        return (0..<6).map { _ in String((0..<5).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] }) }
            .joined(separator: "-")
    }
}

extension ArchiveOptions {
    /// A warning for each part larger than `--split-size` (the limit is on the files a part holds;
    /// part 1 keeps the bundle's description files together, and a file is never cut).
    func warnAboutOversizeParts(_ sizes: [Int]) {
        guard let limit = try? splitBytes(), let text = splitSize, sizes.count > 0 else { return }
        for (i, size) in sizes.enumerated() where size > limit {
            let why = i == 0 ? "it holds the bundle's description (manifest.json, information.json, index.html, SHA256SUMS), which stays in one part"
                             : "it holds one file larger than the limit, and a file is never cut"
            warn("part \(i + 1) of \(sizes.count) is \(size) bytes, more than --split-size \(text): \(why)")
        }
    }
}

/// `2G`, `500M`, `100K` or a number of bytes.
func parseSize(_ text: String) throws(DossierError) -> Int {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = text.uppercased()
    var factor = 1
    if digits.hasSuffix("B") { digits.removeLast() }
    if let last = digits.last, let f = units[last] { factor = f; digits.removeLast() }
    guard let n = Int(digits), n > 0 else {
        throw DossierError(.usage, "--split-size takes a size such as 2G, 500M or 100K")
    }
    return n * factor
}
