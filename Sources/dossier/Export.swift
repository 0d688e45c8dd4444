import ArgumentParser
import DossierArchive
import DossierEngine
import DossierModel
import Foundation

/// `dossier export`: an ad-hoc export for one person, outside the ledger.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export one person's data into an archive (an ad-hoc run, not a delivery).",
        discussion: """
        Give every identifier you know of the person; Dossier follows the links between systems \
        from there (an e-mail finds the CRM contact, whose id finds the training records, …).

        The archive's path is printed as the last line of standard output. Its name carries the \
        request id, never an identifier of the person.

        Example:
          dossier export --config Samples/dossier.yaml --email zofia.wisniewska@example.pl --out out/
        """
    )

    @Option(name: .long, help: ArgumentHelp("The data map (YAML).", valueName: "file"))
    var config: String

    @OptionGroup var person: IdentifierOptions

    @Option(name: .long, help: "access (everything, Art. 15) or portability (the data the person provided, Art. 20).")
    var kind: RequestKind = .access

    @OptionGroup var archive: ArchiveOptions

    @Option(name: .long, help: ArgumentHelp("The folder to write the archive into (created when missing).", valueName: "dir"))
    var out: String = "."

    @Option(name: .customLong("request-id"), help: ArgumentHelp("The request id that names the archive; generated when omitted.", valueName: "id"))
    var requestID: String?

    @Option(name: .customLong("as-of"), help: ArgumentHelp("The time the bundle speaks for (UTC, 2026-01-31T09:00:00Z); now when omitted. With --request-id it makes runs repeat byte for byte.", valueName: "time"))
    var asOf: String?

    @Option(name: .long, help: ArgumentHelp("Language of the bundle's texts (default: the data map's first).", valueName: "code"))
    var language: String?

    @OptionGroup var index: IndexOptions

    @Flag(name: .customLong("dry-run"), help: "Find the person's records and say, per dataset, how many and by which identifier; write no archive.")
    var dryRun = false

    func run() async throws {
        let identifiers = try person.identifiers()
        let date = try parseAsOf(asOf) ?? Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let map = try MapPrefetch.map(file: config)
        if let language, !map.controller.languages.contains(language) {
            throw DossierError(.usage, "the data map offers the languages \(map.controller.languages.joined(separator: ", ")), not '\(language)'")
        }
        let requestID = self.requestID ?? Self.generatedRequestID(date)
        var request = ExportRequest(identifiers: identifiers, format: archive.format, outputDirectory: URL(fileURLWithPath: out),
                                    requestID: requestID, asOf: date, language: language, kind: kind)
        request.splitSize = try archive.splitBytes()
        request.csvBOM = archive.csvBOM
        request.passphrase = try archive.passphrase()
        if dryRun {
            let (scratch, token) = Scratch.temporaryURL("dossier-dry-run")
            defer { Scratch.remove(scratch, token) }
            request.outputDirectory = scratch
            request.pack = false
            let result = try await Exporter(map: map, indexFolder: index.folder).export(request)
            printFindings(title: "dry run", counts: result.counts, foundBy: result.foundBy)
            return
        }
        let result = try await Exporter(map: map, indexFolder: index.folder).export(request)
        if !result.hasData {
            FileHandle.standardError.write(Data("note: no record of this person was found in any of the \(result.counts.count) datasets; the archive says so to the person\n".utf8))
        }
        archive.warnAboutOversizeParts(result.partDigests.map(\.size))
        for part in result.parts { print(part.path) }
    }

    /// `export-20260131T090000Z-1a2b3c4d`: the time in UTC as ISO 8601's basic format writes it.
    static func generatedRequestID(_ date: Date) -> String {
        let basic = date.utcTimestamp.filter { $0 != "-" && $0 != ":" }
        return "export-\(basic)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}
