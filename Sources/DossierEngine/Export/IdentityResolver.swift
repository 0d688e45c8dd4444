import DossierIdentity
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
    func resolve(given: [Identifier], sources: OpenedSources, into stores: DatasetStores) async throws(DossierError) -> Resolution {
        var known = Set(given)
        var listed: [(identifier: Identifier, round: Int, from: String?)] = given.map { ($0, 0, nil) }
        var pending = given
        var round = 0
        while !pending.isEmpty && round < map.maxRounds {
            round += 1
            var discovered: [Identifier] = []
            for (source, collector) in sources.collectors {
                for dataset in source.datasets {
                    let id = DatasetID(source: source.id, dataset: dataset.id)
                    guard let store = stores[id] else { throw DossierError(.internal, "no store for the dataset \(id)") }
                    let kinds = Set(dataset.lookups.map(\.kind))
                    let wanted = pending.filter { kinds.contains($0.kind) }
                    guard !wanted.isEmpty else { continue }
                    let thisRound = round
                    try await collector.find(in: dataset, identifiers: wanted) { record, identifier throws(DossierError) in
                        if store.excluded == nil { try store.add(record, foundBy: identifier, round: thisRound) }
                        for y in dataset.yields {
                            for path in y.paths {
                                guard let value = record.value(at: path) else { continue }
                                for text in value.scalarTexts {
                                    guard let n = normalizer.normalize(text, as: y.kind) else { continue }
                                    let revealed = Identifier(kind: y.kind, value: n)
                                    if known.insert(revealed).inserted {
                                        discovered.append(revealed)
                                        listed.append((revealed, thisRound, id.description))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            pending = discovered.sorted()
        }
        for store in stores.all { try store.close() }
        return Resolution(identifiers: listed, rounds: round, capped: !pending.isEmpty)
    }
}
