import DossierMap
import DossierModel
import Foundation

/// `kind: command`: an external program asked once per lookup, through swift-subprocess.
///
/// Its own map keys, on the source:
///
/// ```yaml
/// legacy_lms:
///   kind: command
///   command: [python3, scripts/lms_lookup.py, --region, eu]   # arguments as a list: no shell
///   environment: [LMS_TOKEN]                                   # the only variables it sees
///   timeout: 20                                                # seconds (default 30)
///   datasets:
///     courses:
///       lookup: { email: courses-by-email }
/// ```
///
/// The program receives one JSON object on standard input, `{"dataset", "kind", "value", "lookup"}`
/// (`lookup` is the map's expression for that identifier kind), and writes the records it finds as
/// JSON Lines on standard output, then exits 0. It runs in the map's folder; a program named with a
/// `/` is found relative to that folder, another on the `PATH` of the `dossier` process.
enum CommandKind: SourceKind {
    static let name = "command"
    static let sourceKeys: Set<String> = ["command", "environment", "timeout"]

    /// The default and the largest time limit of one run of the program, in seconds.
    static let defaultTimeout = 30
    static let maximumTimeout = 3600

    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        switch key {
        case "command":
            let argv = try value.stringList()
            guard let program = argv.first, !program.isEmpty else {
                throw value.fail("command is the program and its arguments as a list, such as [python3, lookup.py]")
            }
            source.lists[key] = argv
        case "environment":
            let names = try value.stringList()
            for name in names where !MapNode.isEnvironmentVariableName(name) {
                throw value.fail("environment lists the names of variables the program may see (letters, digits and _), not values: '\(name)'")
            }
            source.lists[key] = names
        default:
            let seconds = try value.int()
            guard (1...maximumTimeout).contains(seconds) else { throw value.fail("timeout is a number of seconds from 1 to \(maximumTimeout)") }
            source.options[key] = String(seconds)
        }
    }

    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        if source.lists["command"] == nil {
            throw DossierError(.dataMap, "source '\(source.id)' needs command: the program and its arguments as a list", at: source.location)
        }
    }

    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        try CommandCollector(source: source, map: context.map)
    }
}
