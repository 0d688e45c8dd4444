import DossierCollectors
@testable import DossierEngine
import DossierFormats
import DossierIdentity
import DossierModel
import Foundation
import Testing

/// A round's lookups run several at a time in a single export (`IdentityResolver.resolve(atOnce:)`):
/// what they find, and in which order identifiers are credited, must be what one lookup after
/// another finds.
@Suite struct ConcurrentLookupTests {
    /// Three sources chained over five rounds: an e-mail finds a person (who yields an id and a
    /// phone) and a list entry (which yields the same phone: the person, first in the map, is
    /// credited with it), the id finds orders (which yield a second e-mail), the phone and the
    /// e-mails find list entries; the second e-mail finds a second person, and so on.
    static let sources = """
      people:
        kind: csv
        path: people.csv
        datasets:
          people:
            lookup: { email: Email }
            yields: { crm_id: Id, phone: Phone }
            purposes: [service]
            retention: { period: P1Y }
            origin: subject
      orders:
        kind: jsonl
        path: orders.jsonl
        datasets:
          orders:
            lookup: { crm_id: contact_id }
            yields: { email: alt_email }
            purposes: [service]
            retention: { period: P1Y }
            origin: subject
      list:
        kind: csv
        path: list.csv
        datasets:
          subscribers:
            lookup: { email: Email, phone: Phone }
            yields: { phone: Phone }
            purposes: [marketing]
            recipients: [mailer]
            retention: { period: P2Y }
            origin: subject
    """

    static func write(into folder: URL) throws {
        try "Email,Id,Phone\na@example.pl,7,+48 601 000 001\nb@example.pl,8,\nc@example.pl,9,+48 601 000 009\n"
            .write(to: folder.appendingPathComponent("people.csv"), atomically: true, encoding: .utf8)
        try """
        {"contact_id": "7", "total": "10.00", "alt_email": "b@example.pl"}
        {"contact_id": "7", "total": "12.50"}
        {"contact_id": "9", "total": "1.00"}
        {"contact_id": "8", "total": "3.00", "alt_email": "d@example.pl"}

        """.write(to: folder.appendingPathComponent("orders.jsonl"), atomically: true, encoding: .utf8)
        try "Email,Phone\na@example.pl,601 000 001\n,601 000 001\nb@example.pl,\nd@example.pl,\nz@example.pl,601 000 009\n"
            .write(to: folder.appendingPathComponent("list.csv"), atomically: true, encoding: .utf8)
    }

    /// What one resolution found: each identifier with its round and dataset, then each store's
    /// records (in their output order) and the identifiers that found them.
    static func resolve(atOnce: Int, in folder: URL, run: Int) async throws -> [String] {
        let map = try CollectorRegistry.mapLoader.load(yaml: dataMapYAML(sources: sources), file: folder.appendingPathComponent("map.yaml").path)
        let opened = try await OpenedSources.open(map)
        let staging = folder.appendingPathComponent("staging-\(atOnce)-\(run)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        let resolver = IdentityResolver(map: map, normalizer: StandardNormalizer(defaultRegion: "PL"))
        let stores = resolver.stores(kind: .access, staging: Staging(folder: staging))
        let resolution: Resolution
        do {
            resolution = try await resolver.resolve(given: [Identifier(kind: .email, value: "a@example.pl")], sources: opened,
                                                    into: stores, atOnce: atOnce)
        } catch {
            await opened.close()
            throw error
        }
        await opened.close()
        var lines = resolution.identifiers.map { "\($0.identifier) round \($0.round) from \($0.from ?? "-")" }
        lines.append("rounds \(resolution.rounds)")
        for store in stores.all {
            try store.forEachRecord { record in lines.append("\(store.id): \(Value.object(record).jsonText())") }
            lines.append("\(store.id) found by \(store.recordsFound.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" })")
        }
        return lines
    }

    @Test func lookupsAtOnceFindWhatOneAfterAnotherFinds() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.write(into: folder)
        let oneByOne = try await Self.resolve(atOnce: 1, in: folder, run: 0)
        // The chain as written above: three rounds, the second e-mail credited to the orders.
        #expect(oneByOne.prefix(6) == [
            "email=a@example.pl round 0 from -",
            "crm_id=7 round 1 from people/people",
            "phone=+48601000001 round 1 from people/people",
            "email=b@example.pl round 2 from orders/orders",
            "crm_id=8 round 3 from people/people",
            "email=d@example.pl round 4 from orders/orders",
        ])
        #expect(oneByOne.contains("rounds 5"))
        #expect(oneByOne.filter { $0.hasPrefix("list/subscribers: ") }.count == 4)
        for run in 1...8 {
            #expect(try await Self.resolve(atOnce: 4, in: folder, run: run) == oneByOne)
        }
    }

    /// When two lookups of a round fail, the error is the first one's in the map's order, whichever
    /// finished first.
    @Test func theFirstFailingLookupInTheMapsOrderIsTheError() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.write(into: folder)
        let map = try CollectorRegistry.mapLoader.load(yaml: dataMapYAML(sources: Self.sources), file: folder.appendingPathComponent("map.yaml").path)
        for run in 0..<4 {
            let opened = try await OpenedSources.open(map)
            // Read when looked up (no index): both files gone, both lookups of round 1 fail.
            try FileManager.default.removeItem(at: folder.appendingPathComponent("people.csv"))
            try FileManager.default.removeItem(at: folder.appendingPathComponent("list.csv"))
            let staging = folder.appendingPathComponent("staging-\(run)")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
            let resolver = IdentityResolver(map: map, normalizer: StandardNormalizer(defaultRegion: "PL"))
            let stores = resolver.stores(kind: .access, staging: Staging(folder: staging))
            let error = await #expect(throws: DossierError.self) {
                try await resolver.resolve(given: [Identifier(kind: .email, value: "a@example.pl")], sources: opened,
                                           into: stores, atOnce: 4)
            }
            await opened.close()
            #expect(error?.location?.file.hasSuffix("people.csv") == true, "\(String(describing: error))")
            try Self.write(into: folder)
        }
    }
}
