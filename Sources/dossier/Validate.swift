import ArgumentParser
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

    func run() async throws {
        let map = try Exporter.loadMap(file: config)
        let notes = try await Exporter(map: map).validateSources()
        let datasets = map.sources.reduce(0) { $0 + $1.datasets.count }
        for (dataset, undescribed) in notes where !undescribed.isEmpty {
            print("note: \(dataset): fields not described by the map: \(undescribed.joined(separator: ", "))")
        }
        print("ok: \(config): \(map.sources.count) sources, \(datasets) datasets")
    }
}
