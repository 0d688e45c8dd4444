import ArgumentParser
import DossierCollectors
import DossierEngine
import DossierModel
import Foundation

/// `dossier validate`: checks a data map and that every source opens.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a data map and open every source it names.",
        discussion: """
        Reports the first problem with its file, line and key, and exits 64 (data map) or 66 \
        (a source cannot be read). On success, names the fields that sources hold but the map does \
        not describe: they are exported under the category 'uncategorised' until the map describes them.
        """
    )

    @Option(name: .long, help: ArgumentHelp("The data map (YAML).", valueName: "file"))
    var config: String

    @OptionGroup var index: IndexOptions

    func run() async throws {
        let map = try Exporter.loadMap(file: config)
        let (notes, indexes) = try await Exporter(map: map, indexFolder: index.folder).validateSources()
        let datasets = map.sources.reduce(0) { $0 + $1.datasets.count }
        for (dataset, undescribed) in notes where !undescribed.isEmpty {
            print("note: \(dataset): fields not described by the map: \(undescribed.joined(separator: ", "))")
        }
        for (source, state) in indexes {
            switch state {
            case .missing, .stale: print("note: index of \(source.id): \(IndexOptions.describe(state, kind: source.kind))")
            default: break
            }
        }
        print("ok: \(config): \(map.sources.count) sources, \(datasets) datasets")
    }
}
