import DossierModel
import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL source or ledger is, read from the environment as the data map says.
///
/// A URL (`postgres://user:password@host:port/database?sslmode=…&sslrootcert=…`, or
/// `postgresql://`; `?host=/run/postgresql` for a Unix socket folder) comes from the variable
/// `url_env` names; otherwise host, port, database and user come from the map and the password from
/// the variable `password_env` names. Messages name the variable, the host, the port, the database
/// and the user, never the password or the URL.
public struct PostgresEndpoint: Sendable {
    /// libpq's `sslmode`s: what TLS is tried and what is verified.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    /// A Unix socket folder (`host` in the URL's query, beginning with `/`), used instead of TCP.
    public var socketFolder: String?
    public var database: String
    public var user: String
    public var password: String?
    public var sslMode: SSLMode
    /// The certificates a verifying mode trusts; default: the system's.
    public var rootCertificates: String?
    /// Who is connecting, for messages: `source 'crm'` or `the ledger`.
    public var subject: String
    /// How long to wait for a connection: the TCP connect, TLS and the server's start-up answer
    /// (the URL's `connect_timeout`, in seconds, at least 2 as libpq reads it; default 10). A server
    /// that accepts and never answers is given up after it.
    public var connectTimeout: Int = 10

    /// The endpoint of a `kind: postgres` source.
    public init(source: Source, environment: [String: String] = ProcessInfo.processInfo.environment) throws(DossierError) {
        let o = source.options
        let subject = "source '\(source.id)'"
        if let variable = o["url_env"] {
            guard let url = environment[variable], !url.isEmpty else {
                throw DossierError(.sourceUnreadable, "\(subject): the environment variable \(variable) (its url_env) is not set", at: source.location)
            }
            try self.init(url: url, variable: variable, subject: subject)
        } else {
            var password: String?
            if let variable = o["password_env"] {
                guard let value = environment[variable] else {
                    throw DossierError(.sourceUnreadable, "\(subject): the environment variable \(variable) (its password_env) is not set", at: source.location)
                }
                password = value
            }
            self.init(host: o["host"] ?? "localhost", port: o["port"].flatMap { Int($0) } ?? 5432, socketFolder: nil,
                      database: o["database"] ?? "", user: o["user"] ?? "", password: password,
                      sslMode: o["sslmode"].flatMap(SSLMode.init(rawValue:)) ?? .prefer, rootCertificates: nil, subject: subject)
        }
    }

    public init(host: String, port: Int, socketFolder: String?, database: String, user: String, password: String?,
                sslMode: SSLMode, rootCertificates: String?, subject: String) {
        self.host = host; self.port = port; self.socketFolder = socketFolder; self.database = database; self.user = user
        self.password = password; self.sslMode = sslMode; self.rootCertificates = rootCertificates; self.subject = subject
    }

    /// Parses a `postgres://` URL; `variable` is where it came from, for messages.
    public init(url text: String, variable: String, subject: String) throws(DossierError) {
        func fail(_ why: String) -> DossierError {
            DossierError(.sourceUnreadable, "\(subject): the URL in \(variable) \(why)")
        }
        guard let url = URLComponents(string: text), let scheme = url.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw fail("is not a postgres:// URL")
        }
        var host = url.host ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var query: [String: String] = [:]
        for item in url.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set<String> = ["sslmode", "sslrootcert", "host", "port", "application_name", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("has the parameter '\(unknown)', which Dossier does not know (it knows \(known.sorted().joined(separator: ", ")))")
        }
        var socketFolder: String?
        if let h = query["host"] {
            if h.hasPrefix("/") { socketFolder = h } else { host = h }
        }
        let mode: SSLMode
        if let m = query["sslmode"] {
            guard let parsed = SSLMode(rawValue: m) else {
                throw fail("has sslmode=\(m); it takes \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            mode = parsed
        } else {
            mode = .prefer
        }
        let user = url.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? ""
        guard !user.isEmpty else { throw fail("names no user (postgres://USER:PASSWORD@HOST/DATABASE)") }
        let database = String(url.percentEncodedPath.dropFirst()).removingPercentEncoding ?? ""
        guard !database.isEmpty else { throw fail("names no database (postgres://USER:PASSWORD@HOST/DATABASE)") }
        var port = url.port ?? 5432
        if let p = query["port"] {
            guard let n = Int(p), (1...65_535).contains(n) else { throw fail("has a port that is not a number from 1 to 65535") }
            port = n
        }
        var timeout = 10
        if let t = query["connect_timeout"] {
            // libpq waits forever for 0: a batch must not, so only a number of seconds is taken.
            guard let n = Int(t), n >= 1 else { throw fail("has connect_timeout=\(t); it takes a number of seconds of at least 1") }
            timeout = max(2, n)
        }
        if host.isEmpty, socketFolder == nil { host = "localhost" }
        self.init(host: host, port: port, socketFolder: socketFolder, database: database, user: user,
                  password: url.percentEncodedPassword.flatMap { $0.removingPercentEncoding },
                  sslMode: mode, rootCertificates: query["sslrootcert"], subject: subject)
        connectTimeout = timeout
    }

    /// Where, for messages: `127.0.0.1:5432, database 'crm', user 'reader'`.
    public var place: String {
        "\(socketFolder.map { "the socket in \($0)" } ?? "\(host):\(port)"), database '\(database)', user '\(user)'"
    }

    /// postgres-nio's configuration: TLS as `sslmode` says, as libpq reads it (`prefer` and `require`
    /// encrypt without verifying the certificate, `verify-ca` checks the chain, `verify-full` also
    /// the host name).
    /// `lockTimeout`: the longest a statement waits for a lock another session holds (a writer's
    /// `ACCESS EXCLUSIVE`, say), in seconds; nil: as the server is configured (the ledger waits for
    /// its own advisory locks).
    /// `statementTimeout`: the longest one statement may run, in seconds (the server cancels it).
    public func configuration(readOnly: Bool = true, lockTimeout: Int? = nil, statementTimeout: Int? = nil) throws(DossierError) -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        if let folder = socketFolder {
            config = .init(unixSocketPath: folder.hasSuffix("/") ? "\(folder).s.PGSQL.\(port)" : "\(folder)/.s.PGSQL.\(port)",
                           username: user, password: password, database: database)
        } else {
            config = .init(host: host, port: port, username: user, password: password, database: database, tls: try tls())
        }
        config.options.additionalStartupParameters = [("application_name", "dossier"), ("client_encoding", "UTF8")]
        config.options.connectTimeout = .seconds(Int64(connectTimeout))
        if readOnly { config.options.additionalStartupParameters.append(("default_transaction_read_only", "on")) }
        if let lockTimeout { config.options.additionalStartupParameters.append(("lock_timeout", "\(lockTimeout)s")) }
        if let statementTimeout { config.options.additionalStartupParameters.append(("statement_timeout", "\(statementTimeout)s")) }
        return config
    }

    /// postgres-nio's pool (`PostgresClient`) configuration: the same server, TLS and start-up
    /// parameters as `configuration()`, at most `connections` connections.
    public func clientConfiguration(connections: Int) throws(DossierError) -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let folder = socketFolder {
            config = .init(unixSocketPath: folder.hasSuffix("/") ? "\(folder).s.PGSQL.\(port)" : "\(folder)/.s.PGSQL.\(port)",
                           username: user, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            let settings = try tlsConfiguration()
            switch sslMode {
            case .disable: tls = .disable
            case .allow, .prefer: tls = .prefer(settings)
            case .require, .verifyCA, .verifyFull: tls = .require(settings)
            }
            config = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        config.options.additionalStartupParameters = [("application_name", "dossier"), ("client_encoding", "UTF8")]
        config.options.connectTimeout = .seconds(Int64(connectTimeout))
        config.options.maximumConnections = max(1, connections)
        config.options.minimumConnections = 0
        return config
    }

    /// The TLS settings `sslmode` and `sslrootcert` ask for.
    func tlsConfiguration() throws(DossierError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable, .allow, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let roots = rootCertificates, sslMode == .verifyCA || sslMode == .verifyFull {
            guard FileManager.default.isReadableFile(atPath: roots) else {
                throw DossierError(.sourceUnreadable, "\(subject): the sslrootcert file cannot be read", at: SourceLocation(file: roots))
            }
            tls.trustRoots = .file(roots)
        }
        return tls
    }

    func tls() throws(DossierError) -> PostgresConnection.Configuration.TLS {
        if sslMode == .disable { return .disable }
        let tls = try tlsConfiguration()
        do {
            let context = try NIOSSLContext(configuration: tls)
            return sslMode == .allow || sslMode == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw DossierError(.sourceUnreadable, "\(subject): TLS cannot be set up (\(error))")
        }
    }
}
