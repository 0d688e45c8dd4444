import CLibXML2

/// libxml2's global state (its memory functions, dictionaries, mutexes) is set up by `xmlInitParser`,
/// which is not safe to run for the first time on two threads at once: concurrent exports that
/// first touched the library together (one writing an XML dataset, one reading an XML record)
/// crashed now and then. The engine calls this once, on one thread, before any export runs.
public enum XMLLibrary {
    private static let initialized: Void = { xmlInitParser() }()

    public static func initialize() { _ = initialized }
}
