import ArgumentParser
import CAllocator
import DossierModel
import Foundation
import Logging

/// `dossier`: answers GDPR access and portability requests from the systems a data map describes.
///
/// Every command names itself (`commandName`): without it swift-argument-parser derives each name
/// with `String(describing:)` when it builds the command tree, on every run, and each of those
/// dynamic casts scans the whole table of protocol conformances of this statically linked binary.
@main
struct Dossier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossier",
        abstract: "Find one person's data in every system of a data map and pack it, with the information the GDPR requires, into an archive.",
        discussion: """
        Exit codes: 0 done; 64 usage or data-map error; 66 a source cannot be opened or read; \
        65 the action is refused in the request's state; 70 internal error; 73 the output cannot be created; 74 an I/O error while writing; 75 another process is working on the request (try again); 130 and 143 stopped by SIGINT or SIGTERM (nothing half written is left).
        """,
        version: "0.1.0",
        subcommands: [Export.self, Batch.self, RunDue.self, Worker.self, Validate.self, Index.self, Request.self, Audit.self, Purge.self]
    )

    static func main() async {
        tuneAllocator()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["DOSSIER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            handler.logLevel = level ?? .warning
            return handler
        }
        Signals.shared.install()
        MapPrefetch.start(CommandLine.arguments)
        var pastable = ""
        do {
            var command = try parseAsRoot()
            pastable = Self.pastable(of: command)
            do {
                if var command = command as? AsyncParsableCommand {
                    try await command.run()
                } else {
                    try command.run()
                }
            } catch {
                await OpenServices.shared.closeAll()
                throw error
            }
            await OpenServices.shared.closeAll()
        } catch let error as DossierError {
            fail(sentence(for: error, pastable: pastable), code: error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if let exit = error as? ExitCode { Signals.shared.end(); Foundation.exit(exit.rawValue) }
            // Everything the argument parser rejects is a usage error.
            fail("\(message(for: error)) (see 'dossier help')", code: 64)
        }
    }

    /// glibc's allocator hands freed memory back to the kernel as soon as 128 KiB lie free at the
    /// top of a heap, and the threads of the run (Swift's, and SwiftNIO's for PostgreSQL and HTTP
    /// sources) each have a heap: a PostgreSQL batch of Chinook's 59 customers made 1,670
    /// `madvise` calls, each followed by page faults to take the memory back, a third of its system
    /// time. Up to 8 MiB per heap are kept (`M_TRIM_THRESHOLD`); setting it ends glibc's own
    /// adjustment of the size above which a block is mapped alone, which is therefore set too
    /// (`M_MMAP_THRESHOLD`, 4 MiB: an export's spooled files, within its 1 MiB budget, stay in the
    /// heap). Peak memory is unchanged (measured: README, "Performance").
    static func tuneAllocator() {
        _ = dossier_tune_allocator(8 << 20, 4 << 20)
    }

    /// The engine's error in the command line's terms: an input it lacks is named by its option, and
    /// the next step is a command that works when pasted (`pastable`: the options this run was given).
    static func sentence(for error: DossierError, pastable: String) -> String {
        switch error.missing {
        case .identifiers?: return "give at least one identifier of the person: --email, --phone or --id KIND=VALUE"
        case .ledger?: return "no ledger: give --ledger PATH, or ledger.path in the data map given with --config"
        case .dataMap?: return "\(error.message): give --config FILE"
        case .verification?: return "say how the identity was checked (--method) and who checked it (--by)"
        case .reason?: return "\(error.message) (give it with --reason)"
        case .indexFolder?: return "no folder for the lookup indexes: give --index-dir DIR, or index.path in the data map"
        case nil: return error.next.map { "\(error.description); next: \($0.command(pastable))" } ?? error.description
        }
    }

    /// The options a hint printed by this command must repeat (`HintContext`), or none.
    static func pastable(of command: ParsableCommand) -> String {
        (command as? HintContext)?.pastable ?? ""
    }

    static func fail(_ sentence: String, code: Int32) -> Never {
        // A signal that stopped the run (and the programs it runs) says why, once.
        Signals.shared.end()
        FileHandle.standardError.write(Data("dossier: \(sentence)\n".utf8))
        Foundation.exit(code)
    }
}
