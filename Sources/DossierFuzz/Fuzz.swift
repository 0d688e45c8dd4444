import DossierCollectors
import DossierIdentity
import DossierMap
import DossierModel
import Foundation

/// libFuzzer targets (`make fuzz`): the readers of Dossier's inputs, fed bytes libFuzzer mutates.
///
/// Built with `-sanitize=fuzzer -DDOSSIER_FUZZING` by `make fuzz`, which runs each target for a time
/// budget over the seeds of `Tests/corpus`. `DOSSIER_FUZZ_TARGET` picks the target:
///
/// - `json`: `JSON.parse`; a value it gives must print and parse back to itself.
/// - `csv`, `jsonl`, `xml`: the bytes as the file of a source of that kind, read through its
///   collector (open, `find` for one e-mail address, close), as an export reads it.
/// - `map`: the bytes as a data map, through the loader every command uses.
/// - `identifiers`: the bytes as an e-mail address and a phone number; normalising twice gives the
///   same as once, and a normalised e-mail address never holds an upper-case ASCII letter.
///
/// A target may throw a `DossierError` (the input is bad: that is the point); it must never crash,
/// hang or take unbounded memory (libFuzzer's `-timeout` and `-rss_limit_mb` say when it does).
enum Fuzz {
    static let target = ProcessInfo.processInfo.environment["DOSSIER_FUZZ_TARGET"] ?? "json"
    static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dossier-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return url
    }()
    static let normalizer = StandardNormalizer(defaultRegion: "PL")

    static func run(_ bytes: [UInt8]) {
        switch target {
        case "json": json(bytes)
        case "csv", "jsonl", "xml": source(bytes, kind: target)
        case "map": map(bytes)
        case "identifiers": identifiers(bytes)
        default: fatalError("DOSSIER_FUZZ_TARGET is json, csv, jsonl, xml, map or identifiers")
        }
    }

    static func json(_ bytes: [UInt8]) {
        guard let value = try? JSON.parse(bytes[...]) else { return }
        let text = value.jsonText()
        guard let again = try? JSON.parse(Array(text.utf8)[...]) else { fatalError("JSON.parse cannot read back what jsonText wrote") }
        precondition(again.jsonText() == text, "a value does not print the same after a round trip")
    }

    static let maps: [String: String] = [
        "csv": "lists:\n    kind: csv\n    path: data\n    datasets:\n      subscribers:\n        lookup: { email: email }\n",
        "jsonl": "events:\n    kind: jsonl\n    path: data\n    datasets:\n      logins:\n        where: { type: login }\n        lookup: { email: user.email }\n",
        "xml": "contests:\n    kind: xml\n    path: data\n    datasets:\n      entries:\n        record: /contests/entry\n        lookup: { email: email }\n",
    ]

    static func mapText(sources: String) -> String {
        """
        version: 1
        controller:
          name: Fuzz
          address: Nowhere 1
          email: privacy@fuzz.example
          supervisory_authority: { name: Authority, website: https://authority.example }
          languages: [en]
          default_region: PL
        purposes:
          service: { title: Service, legal_basis: contract }
        categories:
          other: { title: Other }
        sources:
          \(sources)
        """
    }

    static func source(_ bytes: [UInt8], kind: String) {
        let data = folder.appendingPathComponent("data")
        _ = FileManager.default.createFile(atPath: data.path, contents: Data(bytes))
        let text = mapText(sources: maps[kind]!).replacingOccurrences(of: "        lookup:", with: "        purposes: [service]\n        retention: { period: P1Y }\n        origin: subject\n        lookup:")
        let map: DataMap
        do { map = try CollectorRegistry.mapLoader.load(yaml: text, file: folder.appendingPathComponent("map.yaml").path) } catch {
            fatalError("the fuzz map does not load: \(error)")
        }
        let done = DispatchSemaphore(value: 0)
        Task {
            let context = CollectorContext(map: map, normalizer: normalizer)
            do throws(DossierError) {
                for source in map.sources {
                    let collector = try await CollectorRegistry.open(source, in: context)
                    for dataset in source.datasets {
                        _ = try? await collector.check(dataset)
                        try? await collector.find(in: dataset, identifiers: [Identifier(kind: .email, value: "anna@example.pl")]) { _, _ throws(DossierError) in }
                    }
                    await collector.close()
                }
            } catch {}
            done.signal()
        }
        done.wait()
    }

    static func map(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? CollectorRegistry.mapLoader.load(yaml: text, file: folder.appendingPathComponent("map.yaml").path)
    }

    static func identifiers(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let once = normalizer.normalize(text, as: .email) {
            precondition(normalizer.normalize(once, as: .email) == once, "normalising an e-mail address twice changes it")
            precondition(!once.unicodeScalars.contains { (0x41...0x5A).contains($0.value) }, "an upper-case ASCII letter is left in an e-mail address")
        }
        if let once = normalizer.normalize(text, as: .phone) {
            precondition(normalizer.normalize(once, as: .phone) == once, "normalising a phone number twice changes it")
        }
        _ = normalizer.validated(text, as: .email)
        _ = normalizer.validated(text, as: .phone)
    }
}

#if DOSSIER_FUZZING
/// The input libFuzzer tries (its own `main`, when it is the one linked, calls this).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    Fuzz.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// libFuzzer's driver (libclang_rt.fuzzer): SwiftPM gives the executable its own `main`, so the
/// driver is called from it instead of being the program's entry.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@main
struct FuzzEntry {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
    }
}
#else
@main
struct FuzzEntry {
    static func main() {
        FileHandle.standardError.write(Data("dossier-fuzz: built without libFuzzer; run it through 'make fuzz'\n".utf8))
        exit(64)
    }
}
#endif
