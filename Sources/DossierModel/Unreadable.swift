import Foundation

/// Why a file cannot be read, told apart: it does not exist, it is a folder, permission is denied,
/// or what the system says. Never the file's content.
///
/// ```swift
/// guard let data = FileManager.default.contents(atPath: path) else {
///     throw DossierError(.usage, "cannot read the manifest: \(Unreadable.reason(path))", at: SourceLocation(file: path))
/// }
/// ```
public enum Unreadable {
    public static func reason(_ path: String) -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return "there is no such file" }
        if isFolder.boolValue { return "it is a folder, not a file" }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return "it cannot be read"
        }
        let code = errno
        if code == EACCES || code == EPERM { return "permission denied" }
        return String(cString: strerror(code))
    }
}
