import ArgumentParser
import DossierCollectors
import DossierEngine
import DossierModel
import Foundation

/// `dossier index`: builds or refreshes the lookup indexes of the file sources.
struct Index: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build or refresh the lookup indexes of the data map's file sources.",
        discussion: """
        An index holds, for every lookup of every dataset of a CSV, JSON Lines or XML source, the \
        normalised value and where in the file the records that hold it are, so that an export \
        reads a few records instead of the whole file. It is rebuilt when a file changes (size, \
        modification time or sampled content) or the map's datasets change; a stale index is never \
        used. Exports use a fresh index and rebuild a stale one; 'dossier batch' builds missing ones.

        Example:
          dossier index --config Samples/dossier.yaml
        """
    )

    @Option(name: .long, help: ArgumentHelp("The data map (YAML).", valueName: "file"))
    var config: String

    @OptionGroup var index: IndexOptions

    func run() async throws {
        let map = try MapPrefetch.map(file: config)
        let exporter = Exporter(map: map, indexFolder: index.folder)
        for (source, state) in try await exporter.buildIndexes() {
            print("index: \(source.id): \(IndexOptions.describe(state, kind: source.kind))")
        }
        if let folder = exporter.indexFolder { print("ok: indexes in \(folder.path)") }
    }
}

/// `--index-dir`, shared by the commands that read sources.
struct IndexOptions: ParsableArguments {
    @Option(name: .customLong("index-dir"), help: ArgumentHelp("The folder of the lookup indexes (default: the data map's index.path).", valueName: "dir"))
    var indexDir: String?

    var folder: URL? { indexDir.map { URL(fileURLWithPath: $0) } }

    /// ` --index-dir DIR` when given, for a hint that works when pasted.
    var pastable: String { indexDir.map { " --index-dir \(Shell.quoted($0))" } ?? "" }

    /// One line about a source's index; `rebuild` is the command that builds it.
    static func describe(_ state: IndexState, kind: String, rebuild: String = "dossier index") -> String {
        switch state {
        case .notUsed:
            return kind == "sqlite" || kind == "postgres" ? "no index needed (\(kind): queried)" : "no index (\(kind) sources are scanned)"
        case .unsupported(let why): return "cannot be indexed (\(why)); scanned"
        case .missing: return "missing; build it: \(rebuild)"
        case .stale(let why): return "stale: \(why); rebuild it: \(rebuild)"
        case .fresh: return "fresh"
        case .built(let b):
            let mb = Double(b.bytesRead) / 1_000_000
            return String(format: "built (%@): %d records, %d entries, %.1f MB read in %.2f s (%.0f MB/s)",
                          b.reason, b.records, b.entries, mb, b.seconds, b.seconds > 0 ? mb / b.seconds : 0)
        }
    }
}
