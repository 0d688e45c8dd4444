import Foundation

/// The temporary files and folders this process has made and not yet removed or renamed into
/// place (staging folders, archives under their `.partial` names, index files being written, lists
/// read from an API), and the process groups of the programs it runs. Whoever makes one registers
/// it and releases it when it is gone or published; when a signal ends the process early,
/// `removeAll()` kills those programs and deletes what is still registered, so that an interrupted
/// run leaves nothing half written and nothing running behind.
///
/// ```swift
/// let token = Scratch.register(staging)
/// defer { try? FileManager.default.removeItem(at: staging); Scratch.release(token) }
/// ```
public enum Scratch {
    public struct Token: Sendable, Hashable { let id: Int }

    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var paths: [Int: String] = [:]
        var groups: [Int: Int32] = [:]
        /// Set by `removeAll`: the process is ending, and nothing new may be made.
        var ending = false
        /// Commits under way that a stop must let finish (`beginCommit`).
        var commits = 0
    }

    /// A commit that publishes files (an archive renamed into place just before the transaction that
    /// records it commits) must not be cut in half: a stop waits for it (at most 30 s), so that the
    /// files and their record exist both or neither. Not called once the process is ending.
    public static func beginCommit() {
        let started: Bool = registry.lock.withLock {
            if registry.ending { return false }
            registry.commits += 1
            return true
        }
        if !started { waitForTheEnd() }
    }

    public static func endCommit() {
        registry.lock.withLock { registry.commits -= 1 }
    }

    /// Waits for the exit under way: a thread that would make a file now must not make it.
    private static func waitForTheEnd() -> Never {
        while true { sleep(60) }
    }
    private static let registry = Registry()

    /// Registers a file or folder to remove should the process be stopped.
    public static func register(_ url: URL) -> Token {
        let token: Token? = registry.lock.withLock {
            if registry.ending { return nil }
            registry.next += 1
            registry.paths[registry.next] = url.path
            return Token(id: registry.next)
        }
        guard let token else { waitForTheEnd() }
        return token
    }

    /// Registers the process group of a program this process started (its leader's pid).
    public static func register(processGroup leader: Int32) -> Token {
        let token: Token? = registry.lock.withLock {
            if registry.ending { return nil }
            registry.next += 1
            registry.groups[registry.next] = leader
            return Token(id: registry.next)
        }
        guard let token else {
            if leader > 1 { kill(-leader, SIGKILL) }     // started as the process ends: stopped at once
            waitForTheEnd()
        }
        return token
    }

    /// Forgets a registration: the file was removed or published, the program ended.
    public static func release(_ token: Token) {
        registry.lock.withLock {
            registry.paths.removeValue(forKey: token.id)
            registry.groups.removeValue(forKey: token.id)
        }
    }

    /// A new, registered name in the system's temporary folder (`<prefix>-<uuid>`); nothing is created.
    public static func temporaryURL(_ prefix: String) -> (url: URL, token: Token) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        return (url, register(url))
    }

    /// A unique name beside `url` to write it under before it is renamed into place:
    /// `.<name>.<8 hex>.partial` (nothing is created or registered).
    public static func partialURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).partial")
    }

    /// Creates an empty file at `url`, mode 0600 whatever the umask, for a library (SQLite) to open
    /// next: a file of personal data is never readable by others, not even for a moment. False when
    /// the file exists or cannot be created.
    public static func createPrivateFile(_ url: URL) -> Bool {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// Removes the file or folder and its registration.
    public static func remove(_ url: URL, _ token: Token) {
        try? FileManager.default.removeItem(at: url)
        release(token)
    }

    /// What is registered now, by path (for tests and diagnostics).
    public static var registered: [String] { registry.lock.withLock { Array(registry.paths.values) } }

    /// Kills the registered programs and removes everything still registered (files, and folders
    /// with what they hold). Called from a signal handler's queue just before the process exits:
    /// from then on, a thread that registers something new waits for the exit instead of making it.
    public static func removeAll() {
        registry.lock.withLock { registry.ending = true }
        for _ in 0..<3000 where registry.lock.withLock({ registry.commits > 0 }) { usleep(10_000) }
        let (paths, groups) = registry.lock.withLock { (Array(registry.paths.values), Array(registry.groups.values)) }
        for leader in groups where leader > 1 { kill(-leader, SIGKILL) }
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { continue }
            guard isFolder.boolValue else { unlink(path); continue }
            // Another thread may still be writing into it: try again until it is gone.
            for _ in 0..<50 where FileManager.default.fileExists(atPath: path) {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }
}
