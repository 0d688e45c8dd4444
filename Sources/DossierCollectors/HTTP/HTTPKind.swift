import DossierMap
import DossierModel
import Foundation

/// `kind: http`: a JSON API read page by page through async-http-client.
///
/// ```yaml
/// lms_api:
///   kind: http
///   url: https://lms.example.com/api/v2        # https; http only to this machine (127.0.0.1, localhost)
///   token_env: LMS_API_TOKEN                    # a bearer token; or user_env and password_env (basic)
///   timeout: 20                                 # seconds per request (default 30)
///   datasets:
///     enrolments:
///       lookup: { email: "/enrolments?email={value}" }   # {value} percent-encoded, never spliced
///       records: data.items                     # where the records are in each page ('.': the page is the list)
///       next: links.next                        # a next-page link; or cursor + cursor_param, or page_param
///     newsletter:                               # an API that cannot filter by the identifier:
///       list: /recipients                       # read once per run, indexed, then looked up locally
///       records: data
///       lookup: { email: address }              # the field of each record that holds the identifier
/// ```
enum HTTPKind: SourceKind {
    static let name = "http"
    static let sourceKeys: Set<String> = ["url", "url_env", "token_env", "user_env", "password_env", "timeout"]
    static let datasetKeys: Set<String> = ["records", "next", "cursor", "cursor_param", "page_param", "method", "body", "list"]

    static let defaultTimeout = 30

    static func read(sourceKey key: String, _ value: MapNode, into source: inout Source) throws(DossierError) {
        switch key {
        case "url":
            let text = try value.nonEmptyString()
            if let problem = problem(withBase: text) { throw value.fail(problem) }
            source.options[key] = base(text)
        case "timeout":
            let seconds = try value.int()
            guard (1...600).contains(seconds) else { throw value.fail("timeout is a number of seconds from 1 to 600") }
            source.options[key] = String(seconds)
        default:   // token_env, user_env, password_env, url_env
            source.options[key] = try value.environmentVariableName(key)
        }
    }

    /// Why `text` cannot be an API's base address, or nil.
    static func problem(withBase text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return "url must be an address such as https://api.example.com/v1"
        }
        guard scheme == "https" || (scheme == "http" && isLoopback(host)) else {
            return "url must use https (plain http only to this machine: 127.0.0.1 or localhost)"
        }
        guard url.query == nil, url.fragment == nil else { return "url is the API's base address, without a query" }
        guard url.user == nil, url.password == nil else {
            return "url must not carry credentials (they would show in logs and maps): name them with token_env, or user_env and password_env"
        }
        return nil
    }

    /// The base address without a trailing `/`.
    static func base(_ text: String) -> String { text.hasSuffix("/") ? String(text.dropLast()) : text }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    static func read(datasetKey key: String, _ value: MapNode, into dataset: inout Dataset) throws(DossierError) {
        switch key {
        case "method":
            let method = try value.nonEmptyString().uppercased()
            guard method == "GET" || method == "POST" else { throw value.fail("method is GET or POST") }
            dataset.options[key] = method
        case "list":
            let list = try value.nonEmptyString()
            guard list.hasPrefix("/") || list.hasPrefix("?"), !list.contains("{value}") else {
                throw value.fail("list is the path under the source's url that lists every record, such as /recipients (no {value}: the API cannot filter)")
            }
            dataset.options[key] = list
                case "body":
            let body = try value.nonEmptyString()
            guard body.contains("{value}") else { throw value.fail("body must hold {value}, where the identifier goes (as a JSON string)") }
            dataset.options[key] = body
        default:
            dataset.options[key] = try value.nonEmptyString()
        }
    }

    /// A lookup is a path with `{value}`, or, on a dataset with `list`, the field that holds the
    /// identifier: `check(dataset:)` tells them apart.
    static func check(lookup expression: String, at value: MapNode) throws(DossierError) {}

    static func check(dataset: Dataset, in source: Source, at node: MapNode) throws(DossierError) {
        guard (source.options["url"] == nil) != (source.options["url_env"] == nil) else {
            throw DossierError(.dataMap, "source '\(source.id)' needs url (the API's base address) or url_env (the variable that holds it), not both",
                               at: source.location)
        }
        if (source.options["user_env"] == nil) != (source.options["password_env"] == nil) {
            throw DossierError(.dataMap, "source '\(source.id)': user_env and password_env go together (basic authentication)", at: source.location)
        }
        if source.options["token_env"] != nil, source.options["user_env"] != nil {
            throw DossierError(.dataMap, "source '\(source.id)': a bearer token (token_env) or basic credentials (user_env, password_env), not both",
                               at: source.location)
        }
        let o = dataset.options
        if o["records"] == nil {
            throw DossierError(.dataMap, "dataset '\(dataset.id)' needs records: where the records are in a response (a field path such as data.items)",
                               at: dataset.location)
        }
        let paging = ["next", "cursor", "page_param"].filter { o[$0] != nil }
        if paging.count > 1 {
            throw DossierError(.dataMap, "dataset '\(dataset.id)' pages one way: next, cursor (with cursor_param) or page_param, not \(paging.joined(separator: " and "))",
                               at: dataset.location)
        }
        if (o["cursor"] == nil) != (o["cursor_param"] == nil) {
            throw DossierError(.dataMap, "dataset '\(dataset.id)': cursor (where the next cursor is) and cursor_param (the query parameter that sends it) go together",
                               at: dataset.location)
        }
        if o["body"] != nil, o["method"] != "POST" {
            throw DossierError(.dataMap, "dataset '\(dataset.id)': a body is sent with method: POST", at: dataset.location)
        }
        if o["list"] != nil {
            if o["method"] != nil || o["body"] != nil {
                throw DossierError(.dataMap, "dataset '\(dataset.id)': a list is read with GET; method and body are for lookups", at: dataset.location)
            }
            for lookup in dataset.lookups where lookup.expression.hasPrefix("/") || lookup.expression.hasPrefix("?") || lookup.expression.contains("{") {
                throw DossierError(.dataMap, "dataset '\(dataset.id)' lists every record (list): its lookup names the field of a record that holds the identifier, such as email, not a path",
                                   at: lookup.location)
            }
            return
        }
        for lookup in dataset.lookups where !(lookup.expression.hasPrefix("/") || lookup.expression.hasPrefix("?")) {
            throw DossierError(.dataMap, "dataset '\(dataset.id)': an HTTP lookup is a path under the source's url, such as /people?email={value} (or give list: for an API that cannot filter)",
                               at: lookup.location)
        }
        for lookup in dataset.lookups where !lookup.expression.contains("{value}") && o["body"] == nil {
            throw DossierError(.dataMap, "dataset '\(dataset.id)': the lookup must hold {value}, where the identifier goes (percent-encoded)",
                               at: lookup.location)
        }
    }

    static func open(_ source: Source, in context: CollectorContext) async throws(DossierError) -> any Collector {
        let http = try HTTPCollector(source: source)
        guard source.datasets.contains(where: { $0.options["list"] != nil }) else { return http }
        do throws(DossierError) { return try await HTTPListSpool.open(http, in: context) } catch {
            await http.close()
            throw error
        }
    }
}
