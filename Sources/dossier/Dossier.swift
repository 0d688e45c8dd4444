import ArgumentParser
import DossierModel
import Foundation
import Logging

/// `dossier`: answers GDPR access and portability requests from the systems a data map describes.
@main
struct Dossier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossier",
        abstract: "Find one person's data in every system of a data map and pack it, with the information the GDPR requires, into an archive.",
        discussion: """
        Exit codes: 0 done; 64 usage or data-map error; 66 a source cannot be opened or read; \
        65 the action is refused in the request's state; 70 internal error; 73 the output cannot be created; 74 an I/O error while writing; 75 another process is working on the request (try again).
        """,
        version: "0.1.0",
        subcommands: [Export.self, Validate.self, Request.self, Audit.self]
    )

    static func main() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["DOSSIER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            handler.logLevel = level ?? .warning
            return handler
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as DossierError {
            fail(error.description, code: error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
            // Everything the argument parser rejects is a usage error.
            fail("\(message(for: error)) (see 'dossier help')", code: 64)
        }
    }

    static func fail(_ sentence: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("dossier: \(sentence)\n".utf8))
        Foundation.exit(code)
    }
}
