import DossierCollectors
import DossierFormats
import DossierIdentity
import DossierModel
import Foundation

/// Names one dataset of the map: its source and its own id (`crm/contacts`).
public struct DatasetID: Sendable, Hashable, CustomStringConvertible {
    public let source: String
    public let dataset: String
    public init(source: String, dataset: String) { self.source = source; self.dataset = dataset }
    public var description: String { "\(source)/\(dataset)" }
}

/// Every source of a data map, opened once for a run and shared by the exports of that run.
///
/// One export opens them, uses them and closes them; a batch opens them once and runs all its
/// exports against the same collectors (one SQLite snapshot, one set of open files).
///
/// ```swift
/// let sources = try await OpenedSources.open(map)
/// defer { Task { await sources.close() } }
/// let result = try await Exporter(map: map).export(request, using: sources)
/// ```
public final class OpenedSources: Sendable {
    public let map: DataMap
    /// The collector of each source, in the map's order.
    let collectors: [(source: Source, collector: any Collector)]
    /// How many exports use the sources at once (`open`'s `concurrency`).
    public let concurrency: Int

    init(map: DataMap, collectors: [(source: Source, collector: any Collector)], concurrency: Int = 1) {
        self.map = map; self.collectors = collectors; self.concurrency = max(1, concurrency)
    }

    /// How many lookups one export runs at once: the cores the run's concurrent exports leave it
    /// (a single export, all of them; a batch with one job per core, one).
    public var lookupsAtOnce: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount / concurrency)
    }

    /// Opens every source of the map; a source that cannot be opened closes the ones already open.
    /// File sources read, build or inspect their lookup indexes as `indexes` says; `concurrency` is
    /// how many exports will use the sources at once (database sources open as many connections).
    public static func open(_ map: DataMap, indexes: IndexPolicy = .none, concurrency: Int = 1,
                            validating: Bool = false) async throws(DossierError) -> OpenedSources {
        XMLLibrary.initialize() // before any source or export touches libxml2 from several threads
        let normalizer = StandardNormalizer(defaultRegion: map.controller.defaultRegion)
        let context = CollectorContext(map: map, normalizer: normalizer, indexes: indexes, concurrency: concurrency, validating: validating)
        // Sources open side by side (building an index is a pass over a file: one core each).
        let opened = await withTaskGroup(of: (Int, Result<any Collector, DossierError>).self) { group in
            for (i, source) in map.sources.enumerated() {
                group.addTask {
                    do throws(DossierError) { return (i, .success(try await CollectorRegistry.open(source, in: context))) } catch {
                        return (i, .failure(error))
                    }
                }
            }
            var results: [(Int, Result<any Collector, DossierError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var collectors: [(source: Source, collector: any Collector)] = []
        var failure: DossierError?
        for (source, result) in zip(map.sources, opened) {
            switch result {
            case .success(let c): collectors.append((source, c))
            case .failure(let e): if failure == nil { failure = e }
            }
        }
        if let failure {
            // The first source of the map that failed is the one named, whatever finished first.
            for c in collectors { await c.collector.close() }
            throw failure
        }
        return OpenedSources(map: map, collectors: collectors, concurrency: concurrency)
    }

    /// Closes every collector.
    public func close() async {
        for (_, collector) in collectors { await collector.close() }
    }

    /// The state of each source's lookup index (`notUsed` for sources that keep none).
    public var indexStates: [(source: Source, state: IndexState)] {
        collectors.map { ($0.source, ($0.collector as? any IndexedCollector)?.indexState ?? .notUsed) }
    }

    /// Opens the map's sources, runs `body` with them, and closes them whatever happens.
    public static func with<T>(_ map: DataMap, indexes: IndexPolicy = .none, concurrency: Int = 1, validating: Bool = false,
                               _ body: (OpenedSources) async throws(DossierError) -> T) async throws(DossierError) -> T {
        let sources = try await open(map, indexes: indexes, concurrency: concurrency, validating: validating)
        do {
            let value = try await body(sources)
            await sources.close()
            return value
        } catch {
            await sources.close()
            throw error
        }
    }
}
