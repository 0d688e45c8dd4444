import DossierCollectors
import DossierIdentity
import DossierModel

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
    let normalizer: StandardNormalizer
    /// The collector of each source, in the map's order.
    let collectors: [(source: Source, collector: any Collector)]

    init(map: DataMap, normalizer: StandardNormalizer, collectors: [(source: Source, collector: any Collector)]) {
        self.map = map; self.normalizer = normalizer; self.collectors = collectors
    }

    /// Opens every source of the map; a source that cannot be opened closes the ones already open.
    /// File sources read, build or inspect their lookup indexes as `indexes` says.
    public static func open(_ map: DataMap, indexes: IndexPolicy = .none) async throws(DossierError) -> OpenedSources {
        let normalizer = StandardNormalizer(defaultRegion: map.controller.defaultRegion)
        let context = CollectorContext(map: map, normalizer: normalizer, indexes: indexes)
        var collectors: [(source: Source, collector: any Collector)] = []
        for source in map.sources {
            do {
                collectors.append((source, try await CollectorRegistry.open(source, in: context)))
            } catch {
                for opened in collectors { await opened.collector.close() }
                throw error
            }
        }
        return OpenedSources(map: map, normalizer: normalizer, collectors: collectors)
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
    public static func with<T>(_ map: DataMap, indexes: IndexPolicy = .none,
                               _ body: (OpenedSources) async throws(DossierError) -> T) async throws(DossierError) -> T {
        let sources = try await open(map, indexes: indexes)
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
