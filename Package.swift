// swift-tools-version: 6.1
import PackageDescription

/// Dossier: finds one person's records in every system an organisation runs and packs them,
/// with the explanations the GDPR requires, into an archive.
///
/// Modules by concern; dependencies point one way (CLI → Engine → Collectors/Formats/Archive → Model).
let package = Package(
    name: "Dossier",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dossier", targets: ["dossier"]),
        // libFuzzer targets over the readers (`make fuzz`).
        .executable(name: "dossier-fuzz", targets: ["DossierFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // C libraries, through module maps.
        .systemLibrary(name: "CArchive", path: "Sources/C/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CLibXML2", path: "Sources/C/CLibXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"])]),
        // The XML lookup index: a SAX2 scan giving each record's exact byte range, and its read-back.
        .target(name: "CXMLIndex", dependencies: ["CLibXML2"], path: "Sources/C/CXMLIndex", exclude: ["test"]),
        // mallopt for the CLI's start: <malloc.h> is not in Swift's Glibc module.
        .target(name: "CAllocator", path: "Sources/C/CAllocator"),
        // libphonenumber ships no pkg-config file: a small C++ target with a C interface.
        .target(name: "CPhoneNumber", path: "Sources/C/CPhoneNumber",
                linkerSettings: [.linkedLibrary("phonenumber"), .linkedLibrary("protobuf")]),

        // The vocabulary: values, records, identifiers, the data map. No C library, no CLI.
        .target(name: "DossierModel", exclude: ["Holidays/generate.py"]),
        // Reads and validates the YAML data map; source kinds read their own keys through it.
        .target(name: "DossierMap", dependencies: ["DossierModel", "Yams"]),
        // Identifier normalisation (e-mail, phone via libphonenumber).
        .target(name: "DossierIdentity", dependencies: ["DossierModel", "CPhoneNumber"]),
        // PostgreSQL for the source and the ledger: where to connect (from the environment), TLS,
        // binary values as Dossier values, errors in Dossier's words (postgres-nio underneath).
        .target(name: "DossierPostgres", dependencies: [
            "DossierModel",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // One folder per source kind: the map keys it reads and the collector it opens.
        .target(name: "DossierCollectors", dependencies: [
            "DossierModel", "DossierMap", "DossierIdentity", "CLibXML2", "CXMLIndex",
            .product(name: "GRDB", package: "GRDB.swift"),
            // SQLite's C API, for the lookup index's bulk insert (LookupIndex.write).
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
            // kind: command
            .product(name: "Subprocess", package: "swift-subprocess"),
            // kind: http
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "SystemPackage", package: "swift-system"),
            "DossierPostgres",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Direct transmission (Art. 20(2)): one archive POSTed over verified HTTPS, streamed, retry-safe.
        .target(name: "DossierTransmission", dependencies: [
            "DossierModel",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // JSON, CSV, XML and spreadsheet (.xlsx, zipped by libarchive) writers for the bundle.
        .target(name: "DossierFormats", dependencies: ["DossierModel", "CLibXML2", "CArchive"]),
        // libarchive: zip and tar.gz, streamed, written under a temporary name.
        .target(name: "DossierArchive", dependencies: ["DossierModel", "CArchive"]),
        // index.html: the Mustache template and the translation files it reads its texts from, embedded
        // in the binary (EmbeddedResources.swift, written from Resources/ by embed.py).
        .target(name: "DossierReport", dependencies: [
            "DossierModel",
            .product(name: "Mustache", package: "swift-mustache"),
        ], exclude: ["Resources", "embed.py"]),
        // The request ledger: requests, deadlines, deliveries, claims, the audit trail.
        .target(name: "DossierLedger", dependencies: [
            "DossierModel", "DossierPostgres",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The flow: resolve, collect, redact, assemble, pack; and the request workflow on the ledger.
        .target(name: "DossierEngine", dependencies: [
            "DossierModel", "DossierMap", "DossierIdentity", "DossierCollectors", "DossierFormats",
            "DossierArchive", "DossierLedger", "DossierReport", "DossierPostgres", "DossierTransmission",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        .executableTarget(name: "dossier", dependencies: [
            "DossierEngine", "DossierModel", "DossierMap", "DossierLedger", "DossierArchive", "DossierCollectors", "DossierTransmission",
            "CAllocator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: [
            // `--static-swift-stdlib` links with `-export-dynamic` (swift_static's static-stdlib-args.lnk),
            // which put all 49,075 public symbols of the linked Swift modules in the dynamic symbol table;
            // at every start the loader searched it and the runtime's backtracer ran dladdr over it.
            // Nothing looks a symbol up in the executable: without them `dossier --version` takes
            // 8.7 instead of 11.0 ms (hyperfine, 60 runs each, alternating; README, "Performance").
            .unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(configuration: .release)),
        ]),

        .executableTarget(name: "DossierFuzz", dependencies: ["DossierModel", "DossierMap", "DossierIdentity", "DossierCollectors"]),

        .testTarget(name: "DossierTests", dependencies: [
            "DossierModel", "DossierMap", "DossierIdentity", "DossierCollectors", "DossierFormats",
            "DossierArchive", "DossierEngine", "DossierLedger", "DossierReport", "DossierPostgres", "CXMLIndex",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
