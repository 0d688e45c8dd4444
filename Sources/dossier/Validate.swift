import ArgumentParser
import DossierCollectors
import DossierEngine
import DossierLedger
import DossierModel
import Foundation

/// `dossier validate`: checks a data map and that every source opens.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a data map and open every source it names.",
        discussion: """
        Reports the first problem with its file, line and key, and exits 64 (data map) or 66 \
        (a source cannot be read). On success, names the fields that sources hold but the map does \
        not describe: they are exported under the category 'uncategorised' until the map describes them, \
        and which public holidays the ledger's deadlines skip (ledger.holidays, else the supervisory \
        authority's country, else default_region).
        """
    )

    @Option(name: .long, help: ArgumentHelp("The data map (YAML).", valueName: "file"))
    var config: String

    @OptionGroup var index: IndexOptions

    func run() async throws {
        let map = try MapPrefetch.map(file: config)
        let (notes, indexes) = try await Exporter(map: map, indexFolder: index.folder).validateSources()
        let datasets = map.sources.reduce(0) { $0 + $1.datasets.count }
        for (dataset, undescribed) in notes where !undescribed.isEmpty {
            print("note: \(dataset): fields not described by the map: \(undescribed.joined(separator: ", "))")
        }
        for (source, state) in indexes {
            switch state {
            case .missing, .stale:
                let rebuild = "dossier index --config \(Shell.quoted(config))\(index.pastable)"
                print("note: index of \(source.id): \(IndexOptions.describe(state, kind: source.kind, rebuild: rebuild))")
            default: break
            }
        }
        let calendar = map.holidayCalendar(known: Set(HolidayTable.countries))
        let working = WorkingCalendar(country: calendar.country, region: calendar.region, extra: map.ledger.extraHolidays)
        let extra = map.ledger.extraHolidays.isEmpty ? "" : " and \(map.ledger.extraHolidays.count) extra days (ledger.holidays.extra)"
        if calendar.country == nil {
            print("deadlines: weekends\(extra) only: no public holiday calendar for \(calendar.named) (\(calendar.chosenBy)); set ledger.holidays.country to an EU or EEA state, or list the days under ledger.holidays.extra")
        } else {
            print("deadlines: \(working.description)\(extra), chosen by \(calendar.chosenBy)")
        }
        print("ok: \(config): \(map.sources.count) sources, \(datasets) datasets")
    }
}
