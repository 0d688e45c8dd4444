import DossierModel
import Foundation

/// SIGINT, SIGTERM and SIGHUP, for every command. Handled on a dispatch queue of its own: the
/// exports keep the cooperative threads busy, and the global queues share their limit, so an async
/// signal sequence (swift-service-lifecycle's UnixSignalsSequence) was only served seconds later,
/// after the batch.
///
/// A command that can stop gracefully (a batch, `run-due`, a worker) holds a `StopOnSignal`: the
/// first signal only asks it to take no further request; a second one stops at once. Any other
/// command stops at once. Stopping at once removes every temporary file and folder the process
/// still has (`Scratch`): nothing half written is left, under any name, and the exit code is 75
/// after a graceful stop was asked, else 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
final class Signals: @unchecked Sendable {
    static let shared = Signals()
    private let lock = NSLock()
    private var graceful = 0
    private var stopping = false
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "dossier.signals")
    /// Held by whoever ends the process (this handler, or `Dossier.fail`), never released: the
    /// other then waits for the exit instead of writing a second sentence.
    private let ending = NSLock()

    /// Takes the signals over; called once, before the command runs.
    func install() {
        sources = [SIGINT, SIGTERM, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in self.received(number) }
            source.resume()
            return source
        }
    }

    var stopRequested: Bool { lock.withLock { stopping } }

    /// Takes the right to end the process; blocks for good when a signal took it first.
    func end() { ending.lock() }

    func beginGraceful() { lock.withLock { graceful += 1 } }
    func endGraceful() { lock.withLock { graceful -= 1 } }

    private func received(_ number: Int32) {
        let (first, asked) = lock.withLock { () -> (Bool, Bool) in
            let asked = graceful > 0 || stopping
            let first = graceful > 0 && !stopping
            if first { stopping = true }
            return (first, asked)
        }
        if first {
            FileHandle.standardError.write(Data("\ndossier: stopping: finishing the requests under way (a second signal stops at once)\n".utf8))
            return
        }
        ending.lock()
        Scratch.removeAll()
        if asked {
            FileHandle.standardError.write(Data("\ndossier: stopped at once; nothing half written is left. Run the same command again to finish.\n".utf8))
            Self.exitNow(75)
        }
        let name = number == SIGINT ? "SIGINT" : number == SIGTERM ? "SIGTERM" : "SIGHUP"
        FileHandle.standardError.write(Data("\ndossier: stopped by \(name); nothing half written is left\n".utf8))
        Self.exitNow(128 + number)
    }

    /// Ends the process from the signal queue while the command's threads still run: the output
    /// streams flushed, then `_exit`. `exit` would run the C and C++ libraries' destructors (ICU,
    /// libphonenumber, libxml2) under a thread that may be inside them: the signal tests met such a
    /// crash once (SIGSEGV instead of 143). Nothing else is owed at exit: the scratch files are
    /// removed, and SQLite's journal makes an interrupted transaction as if it never began.
    private static func exitNow(_ code: Int32) -> Never {
        fflush(nil)
        _exit(code)
    }
}

/// A graceful stop for the scope of a batch, `run-due` or a worker: the first signal sets `isSet`.
final class StopOnSignal: Sendable {
    init() { Signals.shared.beginGraceful() }
    var isSet: Bool { Signals.shared.stopRequested }
    func cancel() { Signals.shared.endGraceful() }
}
