import DossierIdentity
import DossierCollectors
import DossierFormats
import DossierModel
import Foundation

/// The outcome of identity resolution: every identifier known at the end, with the round that
/// revealed it (0: given) and the dataset whose record revealed it.
struct Resolution {
    var identifiers: [(identifier: Identifier, round: Int, from: String?)]
    var rounds: Int
    var capped: Bool
}

/// Step 1 and 2 of the flow: runs rounds of lookups to a fixed point, each record found going into
/// its dataset's store, each identifier it reveals (`yields`) into the next round.
struct IdentityResolver {
    let map: DataMap
    let normalizer: StandardNormalizer

    /// One store per dataset of the map, each set up for the request's kind.
    func stores(kind: RequestKind, staging: Staging, redactions: ReviewRedactions? = nil) -> DatasetStores {
        var stores: [DatasetStore] = []
        for source in map.sources {
            for dataset in source.datasets {
                let store = DatasetStore(source: source, dataset: dataset, staging: staging, index: stores.count)
                store.reviewRedactions = redactions?.paths(source: source.id, dataset: dataset.id) ?? []
                if kind == .portability {
                    store.excluded = Portability.exclusion(of: dataset, in: map)
                    store.transform = { Portability.filter($0, in: dataset) }
                }
                stores.append(store)
            }
        }
        return DatasetStores(stores)
    }

    /// Runs rounds to a fixed point: identifiers found in round r are looked up in round r + 1.
    ///
    /// A round's lookups (one per dataset that looks up a pending identifier) run up to `atOnce` at a
    /// time: each fills only its own dataset's store, and what they reveal is taken in the map's
    /// order once all have finished, so that the identifiers, the dataset credited with each and the
    /// error reported (the first lookup's in the map's order) are those of one lookup after another.
    func resolve(given: [Identifier], sources: OpenedSources, into stores: DatasetStores,
                 atOnce: Int = 1) async throws(DossierError) -> Resolution {
        var known = Set(given)
        var listed: [(identifier: Identifier, round: Int, from: String?)] = given.map { ($0, 0, nil) }
        var pending = given
        var round = 0
        while !pending.isEmpty && round < map.maxRounds {
            round += 1
            var lookups: [Lookup] = []
            for (source, collector) in sources.collectors {
                for dataset in source.datasets {
                    let id = DatasetID(source: source.id, dataset: dataset.id)
                    guard let store = stores[id] else { throw DossierError(.internal, "no store for the dataset \(id)") }
                    let kinds = Set(dataset.lookups.map(\.kind))
                    let wanted = pending.filter { kinds.contains($0.kind) }
                    guard !wanted.isEmpty else { continue }
                    lookups.append(Lookup(collector: collector, dataset: dataset, id: id, store: store, wanted: wanted))
                }
            }
            var discovered: [Identifier] = []
            for (lookup, revealed) in zip(lookups, try await run(lookups, round: round, atOnce: atOnce)) {
                for identifier in revealed where known.insert(identifier).inserted {
                    discovered.append(identifier)
                    listed.append((identifier, round, lookup.id.description))
                }
            }
            pending = discovered.sorted()
        }
        for store in stores.all { try store.close() }
        return Resolution(identifiers: listed, rounds: round, capped: !pending.isEmpty)
    }

    /// One dataset's lookup in a round. A store is filled by one lookup at a time (a round has one
    /// lookup per dataset, and rounds follow one another), which is what makes it safe to hand to
    /// another task; the staging budget its records share is locked.
    struct Lookup: @unchecked Sendable {
        let collector: any Collector
        let dataset: Dataset
        let id: DatasetID
        let store: DatasetStore
        let wanted: [Identifier]
    }

    /// The identifiers each lookup revealed, in the lookups' order.
    private func run(_ lookups: [Lookup], round: Int, atOnce: Int) async throws(DossierError) -> [[Identifier]] {
        if atOnce <= 1 || lookups.count <= 1 {
            var revealed: [[Identifier]] = []
            for lookup in lookups { revealed.append(try await look(up: lookup, round: round)) }
            return revealed
        }
        @Sendable func outcome(_ i: Int) async -> (Int, Result<[Identifier], DossierError>) {
            do throws(DossierError) { return (i, .success(try await look(up: lookups[i], round: round))) } catch {
                return (i, .failure(error))
            }
        }
        let outcomes = await withTaskGroup(of: (Int, Result<[Identifier], DossierError>).self) { group in
            var waiting = lookups.indices.makeIterator()
            for _ in 0..<min(atOnce, lookups.count) {
                if let i = waiting.next() { group.addTask { await outcome(i) } }
            }
            var outcomes = [Result<[Identifier], DossierError>?](repeating: nil, count: lookups.count)
            // A lookup starts as each one ends (`next()`: a task cannot be added to the group while a
            // `for await` loop iterates it).
            while let (i, result) = await group.next() {
                outcomes[i] = result
                if let j = waiting.next() { group.addTask { await outcome(j) } }
            }
            return outcomes
        }
        return try outcomes.map { outcome throws(DossierError) in try outcome!.get() }
    }

    /// Runs one lookup into its store; returns the identifiers its records reveal (`yields`), each
    /// once, in the order they were met.
    private func look(up lookup: Lookup, round: Int) async throws(DossierError) -> [Identifier] {
        var revealed: [Identifier] = []
        var seen = Set<Identifier>()
        let store = lookup.store, dataset = lookup.dataset
        try await lookup.collector.find(in: dataset, identifiers: lookup.wanted) { record, identifier throws(DossierError) in
            if store.excluded == nil { try store.add(record, foundBy: identifier, round: round) }
            for y in dataset.yields {
                for path in y.paths {
                    guard let value = record.value(at: path) else { continue }
                    for text in value.scalarTexts {
                        guard let n = normalizer.normalize(text, as: y.kind) else { continue }
                        let identifier = Identifier(kind: y.kind, value: n)
                        if seen.insert(identifier).inserted { revealed.append(identifier) }
                    }
                }
            }
        }
        return revealed
    }
}
