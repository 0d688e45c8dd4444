import DossierMap
import DossierModel
import DossierPostgres

/// `kind: postgres`: a PostgreSQL database read with the data map's queries, through postgres-nio.
///
/// Its own map keys, on the source: where to connect, never a secret.
///
/// ```yaml
/// crm:
///   kind: postgres
///   url_env: CRM_DATABASE_URL        # postgres://user:password@host:5432/crm?sslmode=verify-full
///   datasets:
///     contacts:
///       lookup: { email: SELECT * FROM contacts WHERE lower(email) = :value }
/// ```
///
/// or `host`, `port` (5432), `database`, `user`, `password_env` and `sslmode` (`prefer`) one by one;
/// `timeout`: the seconds one lookup may run (1-3600, default 300; the server cancels it after).
/// Every lookup binds `:value` (as `$1`) and nothing else; the collector reads a whole run in one
/// `REPEATABLE READ READ ONLY` snapshot.
enum PostgresKind: SourceKind {
    static let name = "postgres"
    static let sourceKeys: Set<String> = ["url_env", "host", "port", "database", "user", "password_env", "sslmode", "timeout"]
    /// Seconds one lookup may run when the map does not say.
    static let defaultTimeout = 300

    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        switch key {
        case "port":
            let port = try value.int()
            guard (1...65_535).contains(port) else { throw value.fail("port must be a number from 1 to 65535") }
            source.options[key] = String(port)
        case "sslmode":
            let mode = try value.string()
            guard PostgresEndpoint.SSLMode(rawValue: mode) != nil else {
                throw value.fail("sslmode must be one of \(PostgresEndpoint.SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            source.options[key] = mode
        case "timeout":
            let seconds = try value.int()
            guard (1...3600).contains(seconds) else { throw value.fail("timeout is a number of seconds from 1 to 3600") }
            source.options[key] = String(seconds)
        case "url_env", "password_env":
            source.options[key] = try value.environmentVariableName(key)
        default:
            source.options[key] = try value.nonEmptyString()
        }
    }

    static func check(lookup expression: String, at value: MapNode) throws(DossierError) {
        let rewritten = PostgresSQL.positional(expression)
        if let positional = rewritten.positional.first {
            throw value.fail("the query uses the parameter \(positional); write :value, which is bound as a parameter")
        }
        if let other = rewritten.named.first {
            throw value.fail("the query uses the parameter \(other); only :value is bound")
        }
        if rewritten.values == 0 {
            throw value.fail("the query must use the parameter :value (bound, never spliced)")
        }
    }

    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        let o = source.options
        if o["url_env"] != nil {
            if let extra = ["host", "port", "database", "user", "password_env"].first(where: { o[$0] != nil }) {
                throw DossierError(.dataMap, "source '\(source.id)' gives both url_env and \(extra): give the URL's variable, or host, database and user",
                                   at: source.location)
            }
        } else if let missing = ["host", "database", "user"].first(where: { o[$0] == nil }) {
            throw DossierError(.dataMap, "source '\(source.id)' needs url_env (the variable that holds its URL), or host, database and user (missing: \(missing))",
                               at: source.location)
        }
    }

    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        try await PostgresCollector.open(source, endpoint: try PostgresEndpoint(source: source), context: context,
                                         timeout: source.options["timeout"].flatMap { Int($0) } ?? defaultTimeout)
    }
}
