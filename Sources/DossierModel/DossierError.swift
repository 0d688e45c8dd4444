/// Where in an input something was found: a file, and where known a line, a column and a key.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The key path inside the file (`sources.crm.datasets.contacts.lookup.email`).
    public var key: String?

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String? = nil) {
        self.file = file; self.line = line; self.column = column; self.key = key
    }

    /// `file:line:column` (as far as known), then the key.
    public var description: String {
        var s = file
        if let line { s += ":\(line)"; if let column { s += ":\(column)" } }
        if let key { s += " (\(key))" }
        return s
    }
}

/// An error of Dossier: a kind that decides the exit code, and one sentence with its context.
///
/// Messages name the source, the file, the line or the key, never a person's data.
public struct DossierError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The command line was wrong (exit 64).
        case usage
        /// The data map is invalid (exit 64).
        case dataMap
        /// A source cannot be opened or read (exit 66).
        case sourceUnreadable
        /// The output cannot be created (exit 73).
        case outputUnavailable
        /// Writing the output failed (exit 74).
        case outputWrite
        /// A defect of Dossier itself (exit 70).
        case `internal`
        /// The request cannot be acted on in its current state (exit 65, data error).
        case refused
        /// Another process is working on the request right now (exit 75, try again).
        case busy
    }

    /// An input the caller did not give, in the engine's terms, so that a front end can say how to
    /// give it (the command line names its options; the engine knows none).
    public enum Missing: Sendable, Hashable {
        /// No identifier of the person.
        case identifiers
        /// No ledger named, neither by the caller nor by the data map.
        case ledger
        /// The action needs the data map.
        case dataMap
        /// How the identity was checked, or by whom.
        case verification
        /// The reason an action needs.
        case reason
        /// The folder of the lookup indexes.
        case indexFolder
    }

    /// What the caller can do next, in the engine's terms, so that a front end can print it as a
    /// command that works when pasted (the command line adds the options it was given).
    public enum NextStep: Sendable, Hashable {
        /// Record how the requester's identity was checked.
        case verify(request: String)
        /// Look at the request's bundle.
        case review(request: String)
        /// Release the reviewed bundle.
        case approve(request: String)
        /// Produce the first copy.
        case fulfil(request: String)
        /// Quote (and, once accepted, produce) a further copy.
        case furtherCopy(request: String)
    }

    public let kind: Kind
    public let message: String
    public let location: SourceLocation?
    public let missing: Missing?
    public let next: NextStep?

    public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil, missing: Missing? = nil, next: NextStep? = nil) {
        self.kind = kind; self.message = message; self.location = location; self.missing = missing; self.next = next
    }

    /// The exit code documented in the README (sysexits.h values).
    public var exitCode: Int32 {
        switch kind {
        case .usage, .dataMap: return 64
        case .refused: return 65
        case .sourceUnreadable: return 66
        case .internal: return 70
        case .outputUnavailable: return 73
        case .outputWrite: return 74
        case .busy: return 75
        }
    }

    /// One sentence: the location first when there is one.
    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}
