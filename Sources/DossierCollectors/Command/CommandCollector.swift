import DossierModel
import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs a `kind: command` source's program once per lookup and streams the JSON Lines it writes.
///
/// The program gets exactly the variables the map names (`environment`), no shell, the map's folder
/// as its working directory and its own process group; it is killed, with anything it started, when
/// it runs past `timeout`, writes a line longer than `maxLine` or more than `maxOutput` in all, or
/// when the run is cancelled. Standard error is drained at the same time and its first `stderrKept`
/// bytes go into the error when the program fails.
struct CommandCollector: Collector {
    let source: Source
    /// The program's absolute path.
    let program: String
    let arguments: [String]
    let environment: [String: String]
    let timeout: Int
    let folder: String

    /// The longest line of output, and the most output of one run.
    static let maxLine = 16 << 20
    static let maxOutput = 1 << 30
    /// How much of standard error an error message quotes.
    static let stderrKept = 600

    init(source: Source, map: DataMap) throws(DossierError) {
        let argv = source.lists["command"] ?? []
        guard let name = argv.first else {
            throw DossierError(.dataMap, "source '\(source.id)' needs command: the program and its arguments as a list", at: source.location)
        }
        self.source = source
        folder = map.folder.path
        program = try Self.locate(name, folder: map.folder, source: source)
        arguments = Array(argv.dropFirst())
        var environment: [String: String] = [:]
        let own = ProcessInfo.processInfo.environment
        for variable in source.lists["environment"] ?? [] {
            guard let value = own[variable] else {
                throw DossierError(.sourceUnreadable, "source '\(source.id)': the environment variable \(variable) that its environment names is not set",
                                   at: source.location)
            }
            environment[variable] = value
        }
        self.environment = environment
        timeout = source.options["timeout"].flatMap(Int.init) ?? CommandKind.defaultTimeout
    }

    /// A name with a `/` is a path (relative to the map's folder); another is looked up on `PATH`.
    static func locate(_ name: String, folder: URL, source: Source) throws(DossierError) -> String {
        let files = FileManager.default
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : folder.appendingPathComponent(name).path
            guard files.isExecutableFile(atPath: path) else {
                throw DossierError(.sourceUnreadable, "source '\(source.id)': the program \(name) is not an executable file", at: source.location)
            }
            return path
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if files.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw DossierError(.sourceUnreadable, "source '\(source.id)': the program \(name) is not on the PATH", at: source.location)
    }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        for lookup in dataset.lookups {
            for id in identifiers where id.kind == lookup.kind {
                try await run(dataset: dataset, lookup: lookup, identifier: id) { record throws(DossierError) in try found(record, id) }
            }
        }
    }

    /// The program is checked, not run: running it could cost what a lookup costs.
    func check(_ dataset: Dataset) async throws(DossierError) -> [String] { [] }

    func close() async {}

    /// What one run of the program came to, besides the records already handed on.
    private struct Outcome: Sendable {
        var failure: DossierError?
        var stderr: [UInt8] = []
        var fromStderr = false
        var timedOut = false
    }

    /// One lookup: the request on standard input, each line of standard output to `each`.
    func run(dataset: Dataset, lookup: Lookup, identifier: Identifier,
             each: (Record) throws(DossierError) -> Void) async throws(DossierError) {
        let request = Value.object(Fields([("dataset", .string(dataset.id)), ("kind", .string(identifier.kind.name)),
                                           ("value", .string(identifier.value)), ("lookup", .string(lookup.expression))])).jsonText() + "\n"
        var options = PlatformOptions()
        options.processGroupID = 0
        let subject = "source '\(source.id)', dataset '\(dataset.id)'"
        let limit = timeout
        let outcome: Outcome, status: TerminationStatus
        do {
            let result = try await Subprocess.run(
                .path(FilePath(program)), arguments: Arguments(arguments), environment: .custom(Self.keys(environment)),
                workingDirectory: FilePath(folder), platformOptions: options,
                input: .string(request), output: .sequence, error: .sequence
            ) { execution in
                // A signal that stops Dossier kills the program and what it started.
                let running = Scratch.register(processGroup: execution.processIdentifier.value)
                defer { Scratch.release(running) }
                return await withTaskGroup(of: Outcome.self, returning: Outcome.self) { group in
                    // The watchdog: past the time limit, the program and its process group are killed.
                    group.addTask {
                        do { try await Task.sleep(for: .seconds(limit)) } catch { return Outcome() }
                        try? execution.send(signal: .kill, toProcessGroup: true)
                        return Outcome(timedOut: true)
                    }
                    group.addTask {
                        var kept: [UInt8] = []
                        do {
                            for try await buffer in execution.standardError where kept.count < Self.stderrKept {
                                buffer.withUnsafeBytes { kept.append(contentsOf: $0.prefix(Self.stderrKept - kept.count)) }
                            }
                        } catch {}
                        return Outcome(stderr: kept, fromStderr: true)
                    }
                    var outcome = Outcome()
                    outcome.failure = await Self.read(execution.standardOutput, subject: subject, at: source.location, each: each)
                    if outcome.failure != nil { try? execution.send(signal: .kill, toProcessGroup: true) }
                    // Standard error ends with the program (and whatever it started): then the
                    // watchdog is no longer needed.
                    while let done = await group.next() {
                        if done.timedOut { outcome.timedOut = true }
                        if done.fromStderr {
                            outcome.stderr = done.stderr
                            group.cancelAll()
                        }
                    }
                    return outcome
                }
            }
            outcome = result.closureResult
            status = result.terminationStatus
        } catch {
            throw DossierError(.sourceUnreadable, "\(subject): the program \(program) could not be run (\(error))", at: source.location)
        }
        if outcome.timedOut {
            throw DossierError(.sourceUnreadable, "\(subject): the program did not finish within \(timeout) s and was stopped (timeout)", at: source.location)
        }
        if let failure = outcome.failure { throw failure }
        guard status.isSuccess else {
            let how: String
            switch status {
            case .exited(let code): how = "exited with code \(code)"
            case .signaled(let signal): how = "was killed by signal \(signal)"
            }
            throw DossierError(.sourceUnreadable, "\(subject): the program \(how)\(Self.quote(outcome.stderr))", at: source.location)
        }
    }

    /// `; it said: "…"` with the first bytes of standard error on one line, or nothing.
    static func quote(_ stderr: [UInt8]) -> String {
        // Control characters (escape sequences, bells, NULs) never reach the terminal that shows the error.
        let printable = String(String.UnicodeScalarView(String(decoding: stderr, as: UTF8.self).unicodeScalars.map { s in
            s.properties.generalCategory == .control || s.properties.generalCategory == .format ? " " : s
        }))
        let text = printable.split(whereSeparator: { $0 == " " }).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return "" }
        let cut = text.count > 300 ? String(text.prefix(300)) + "…" : text
        return "; it said: \"\(cut)\""
    }

    /// Splits standard output into lines and hands each JSON object on; the first problem ends it.
    static func read(_ output: SubprocessOutputSequence, subject: String, at location: SourceLocation?,
                     each: (Record) throws(DossierError) -> Void) async -> DossierError? {
        var pending: [UInt8] = []
        var total = 0, line = 0
        func emit(_ bytes: ArraySlice<UInt8>) throws(DossierError) {
            line += 1
            var text = bytes
            while let last = text.last, last == 0x0D { text = text.dropLast() }
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            let value: Value
            do { value = try JSON.parse(text) } catch {
                throw DossierError(.sourceUnreadable, "\(subject): line \(line) of the program's output is not JSON (\(error.message) at column \(error.column))",
                                   at: location)
            }
            guard case .object(let record) = value else {
                throw DossierError(.sourceUnreadable, "\(subject): line \(line) of the program's output is not a JSON object", at: location)
            }
            try each(record)
        }
        do {
            for try await buffer in output {
                total += buffer.count
                if total > maxOutput {
                    return DossierError(.sourceUnreadable, "\(subject): the program wrote more than \(maxOutput >> 20) MiB; stopped", at: location)
                }
                buffer.withUnsafeBytes { pending.append(contentsOf: $0) }
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    do throws(DossierError) { try emit(pending[start..<newline]) } catch { return error }
                    start = newline + 1
                }
                pending.removeSubrange(..<start)
                if pending.count > maxLine {
                    return DossierError(.sourceUnreadable, "\(subject): line \(line + 1) of the program's output is longer than \(maxLine >> 20) MiB; stopped",
                                       at: location)
                }
            }
        } catch {
            return DossierError(.sourceUnreadable, "\(subject): the program's output could not be read (\(error))", at: location)
        }
        if !pending.isEmpty {
            do throws(DossierError) { try emit(pending[...]) } catch { return error }
        }
        return nil
    }

    static func keys(_ environment: [String: String]) -> [Environment.Key: String] {
        var out: [Environment.Key: String] = [:]
        for (k, v) in environment { out[Environment.Key(stringLiteral: k)] = v }
        return out
    }
}
