import DossierEngine
import DossierModel
import Foundation

/// The data map named by `--config`, loaded on a thread of its own while swift-argument-parser
/// parses the command line on the main thread.
///
/// Both take a few milliseconds of a single export (the parse 3.5, the map 3.5, measured on one
/// Chinook export), and neither needs the other: the map's path is found by a plain look at the
/// arguments, and a command uses the prefetched map only when its parsed `--config` is that same
/// path; any other command loads its map as before (`map(file:)`). A command that fails to parse
/// never looks at the prefetched map, so what it says is unchanged; a map that fails to load gives
/// the error loading it gives. For `export`, the page's templates are then parsed for the language
/// the export will use (`--language`, or the map's first), as `Exporter.export` would start them.
///
/// ```swift
/// MapPrefetch.start(CommandLine.arguments)       // before parseAsRoot()
/// let map = try MapPrefetch.map(file: config)     // in the command's run()
/// ```
final class MapPrefetch: @unchecked Sendable {
    private static let shared = MapPrefetch()

    private let condition = NSCondition()
    private var path: String?
    private var result: Result<DataMap, DossierError>?

    /// Starts loading the map that `arguments` (the whole command line, program name first) name
    /// with `--config PATH` or `--config=PATH`, if any, before the options after `--`.
    static func start(_ arguments: [String]) {
        guard let path = option("--config", in: arguments) else { return }
        let exporting = arguments.dropFirst().first == "export"
        let language = exporting ? option("--language", in: arguments) : nil
        shared.condition.lock()
        shared.path = path
        shared.condition.unlock()
        // A thread of its own: the run's tasks may block on it, so it must not wait for a place in
        // Swift's cooperative pool or Dispatch's (on one core they are one thread).
        let thread = Thread {
            let loaded = Result<DataMap, DossierError> { () throws(DossierError) in try Exporter.loadMap(file: path) }
            shared.condition.lock()
            shared.result = loaded
            shared.condition.broadcast()
            shared.condition.unlock()
            if exporting, case .success(let map) = loaded { Exporter.preparePage(for: map, language: language) }
        }
        thread.start()
    }

    /// The map at `file`: the prefetched one when it is the same path (waiting for it), else loaded now.
    static func map(file: String) throws(DossierError) -> DataMap {
        shared.condition.lock()
        guard shared.path == file else {
            shared.condition.unlock()
            return try Exporter.loadMap(file: file)
        }
        while shared.result == nil { shared.condition.wait() }
        let result = shared.result!
        shared.condition.unlock()
        return try result.get()
    }

    /// The value of the first `name` option before `--` (`--name VALUE` or `--name=VALUE`).
    static func option(_ name: String, in arguments: [String]) -> String? {
        var rest = arguments.dropFirst()[...]
        while let argument = rest.popFirst() {
            if argument == "--" { return nil }
            if argument == name { return rest.first.flatMap { $0.hasPrefix("-") || $0.isEmpty ? nil : $0 } }
            if argument.hasPrefix(name + "=") {
                let value = String(argument.dropFirst(name.count + 1))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }
}
