import AsyncHTTPClient
import DossierModel
import Foundation
import NIOCore
import NIOHTTP1

/// Reads a `kind: http` source: one client per run (TLS verified, redirects followed only within the
/// API's own host), each lookup page by page, retried with a backoff on 429 and 5xx.
final class HTTPCollector: Collector {
    let source: Source
    let base: URL
    let authorization: String?
    let timeout: Int
    let client: HTTPClient

    /// The largest response read, the most pages of one lookup, the most attempts of one request,
    /// and the longest wait a `Retry-After` may ask for.
    static let maxBody = 64 << 20
    static let maxPages = 10_000
    static let attempts = 5
    static let maxRetryAfter = 60
    static let maxRedirects = 5

    init(source: Source) throws(DossierError) {
        self.source = source
        let environment = ProcessInfo.processInfo.environment
        var text = source.options["url"]
        if let name = source.options["url_env"] {
            guard let value = environment[name], !value.isEmpty else {
                throw DossierError(.sourceUnreadable, "source '\(source.id)': the environment variable \(name) that url_env names is not set",
                                   at: source.location)
            }
            if let problem = HTTPKind.problem(withBase: value) {
                throw DossierError(.sourceUnreadable, "source '\(source.id)': the address in \(name): \(problem)", at: source.location)
            }
            text = HTTPKind.base(value)
        }
        guard let text, let base = URL(string: text) else {
            throw DossierError(.dataMap, "source '\(source.id)' needs url", at: source.location)
        }
        self.base = base
        func variable(_ key: String) throws(DossierError) -> String? {
            guard let name = source.options[key] else { return nil }
            guard let value = environment[name], !value.isEmpty else {
                throw DossierError(.sourceUnreadable, "source '\(source.id)': the environment variable \(name) that \(key) names is not set",
                                   at: source.location)
            }
            return value
        }
        if let token = try variable("token_env") {
            authorization = "Bearer \(token)"
        } else if let user = try variable("user_env"), let password = try variable("password_env") {
            authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        } else {
            authorization = nil
        }
        timeout = source.options["timeout"].flatMap(Int.init) ?? HTTPKind.defaultTimeout
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(Int64(timeout)), read: .seconds(Int64(timeout)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func close() async { try? await client.shutdown() }

    func check(_ dataset: Dataset) async throws(DossierError) -> [String] { [] }

    func find(in dataset: Dataset, identifiers: [Identifier],
              found: (Record, Identifier) throws(DossierError) -> Void) async throws(DossierError) {
        for lookup in dataset.lookups {
            for id in identifiers where id.kind == lookup.kind {
                try await read(dataset: dataset, lookup: lookup, value: id.value) { record throws(DossierError) in try found(record, id) }
            }
        }
    }

    /// The lookup's pages, in order, each page's records to `each`.
    func read(dataset: Dataset, lookup: Lookup, value: String, each: (Record) throws(DossierError) -> Void) async throws(DossierError) {
        let first = base.absoluteString + lookup.expression.replacingOccurrences(of: "{value}", with: Self.percentEncoded(value))
        let body = dataset.options["body"].map { $0.replacingOccurrences(of: "{value}", with: Value.string(value).jsonText()) }
        try await read(dataset: dataset, first: first, body: body, each: each)
    }

    /// Every page from `first` on, in order, each page's records to `each`.
    func read(dataset: Dataset, first: String, body: String?, each: (Record) throws(DossierError) -> Void) async throws(DossierError) {
        let subject = "source '\(source.id)', dataset '\(dataset.id)'"
        let o = dataset.options
        let records = FieldPath(o["records"] ?? "")
        var url = first
        var page = 1
        if let param = o["page_param"] { url = Self.adding(param, "1", to: first) }
        for _ in 0..<Self.maxPages {
            let bytes = try await fetch(url, method: o["method"] ?? "GET", body: body, subject: subject)
            let document: Value
            do { document = try JSON.parse(bytes: Array(bytes.readableBytesView)) } catch {
                throw DossierError(.sourceUnreadable, "\(subject): the response is not JSON (\(error.message) at column \(error.column))", at: source.location)
            }
            guard case .array(let items)? = records.description == "." ? document : document.value(at: records) else {
                throw DossierError(.sourceUnreadable, "\(subject): the response has no list of records at '\(records)'", at: source.location)
            }
            for item in items {
                guard case .object(let record) = item else {
                    throw DossierError(.sourceUnreadable, "\(subject): a record at '\(records)' is not a JSON object", at: source.location)
                }
                try each(record)
            }
            if let next = o["next"] {
                guard let link = document.value(at: FieldPath(next))?.scalarText, !link.isEmpty else { return }
                url = try sameOrigin(link, relativeTo: url, subject: subject, what: "a next-page link")
            } else if let cursorPath = o["cursor"], let param = o["cursor_param"] {
                guard let cursor = document.value(at: FieldPath(cursorPath))?.scalarText, !cursor.isEmpty else { return }
                url = Self.adding(param, cursor, to: first)
            } else if let param = o["page_param"] {
                if items.isEmpty { return }
                page += 1
                url = Self.adding(param, String(page), to: first)
            } else {
                return
            }
        }
        throw DossierError(.sourceUnreadable, "\(subject): more than \(Self.maxPages) pages for one lookup; stopped", at: source.location)
    }

    /// One request's body, with retries on 429 and 5xx and redirects within the API's host.
    func fetch(_ address: String, method: String, body: String?, subject: String) async throws(DossierError) -> ByteBuffer {
        var url = address
        var attempt = 0, redirects = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = method == "POST" ? .POST : .GET
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Dossier")
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(Int64(timeout)))
            } catch {
                if attempt < Self.attempts, Self.isTransient(error) {
                    await Self.pause(seconds: Self.backoff(attempt))
                    continue
                }
                throw DossierError(.sourceUnreadable, "\(subject): \(Self.describe(error, timeout: timeout)) at \(Self.origin(base))", at: source.location)
            }
            let status = Int(response.status.code)
            switch status {
            case 200..<300:
                do {
                    return try await response.body.collect(upTo: Self.maxBody)
                } catch is NIOTooManyBytesError {
                    throw DossierError(.sourceUnreadable, "\(subject): a response is larger than \(Self.maxBody >> 20) MiB; stopped", at: source.location)
                } catch {
                    throw DossierError(.sourceUnreadable, "\(subject): the response could not be read (\(Self.describe(error, timeout: timeout)))", at: source.location)
                }
            case 300..<400:
                _ = try? await response.body.collect(upTo: 1 << 16)
                redirects += 1
                guard redirects <= Self.maxRedirects, let location = response.headers.first(name: "Location") else {
                    throw DossierError(.sourceUnreadable, "\(subject): the API answered \(status) without a usable redirect", at: source.location)
                }
                url = try sameOrigin(location, relativeTo: url, subject: subject, what: "a redirect")
            case 429, 500..<600:
                let wait = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                _ = try? await response.body.collect(upTo: 1 << 16)
                guard attempt < Self.attempts else {
                    throw DossierError(.sourceUnreadable, "\(subject): the API answered \(status) \(response.status.reasonPhrase) \(Self.attempts) times; giving up",
                                       at: source.location)
                }
                await Self.pause(seconds: wait.map { Double(min(max($0, 0), Self.maxRetryAfter)) } ?? Self.backoff(attempt))
            case 401, 403:
                _ = try? await response.body.collect(upTo: 1 << 16)
                throw DossierError(.sourceUnreadable, "\(subject): the API refused the credentials (\(status) \(response.status.reasonPhrase))", at: source.location)
            default:
                _ = try? await response.body.collect(upTo: 1 << 16)
                throw DossierError(.sourceUnreadable, "\(subject): the API answered \(status) \(response.status.reasonPhrase)", at: source.location)
            }
        }
    }

    /// `link` resolved against `current`, refused unless it is on the API's own scheme, host and port.
    func sameOrigin(_ link: String, relativeTo current: String, subject: String, what: String) throws(DossierError) -> String {
        guard let resolved = URL(string: link, relativeTo: URL(string: current))?.absoluteURL else {
            throw DossierError(.sourceUnreadable, "\(subject): \(what) is not an address", at: source.location)
        }
        guard Self.origin(resolved) == Self.origin(base) else {
            throw DossierError(.sourceUnreadable, "\(subject): \(what) leads to another host (\(resolved.host ?? "?")); refused", at: source.location)
        }
        return resolved.absoluteString
    }

    static func origin(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }

    /// Everything but RFC 3986's unreserved characters percent-encoded (so `+`, `&`, `/`, `=` too).
    static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    private static let unreserved: CharacterSet = {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return allowed
    }()

    static func adding(_ name: String, _ value: String, to url: String) -> String {
        url + (url.contains("?") ? "&" : "?") + percentEncoded(name) + "=" + percentEncoded(value)
    }

    static func backoff(_ attempt: Int) -> Double { min(0.25 * Double(1 << min(attempt, 6)), 8) }

    static func pause(seconds: Double) async {
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    }

    static func isTransient(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError {
            return e == .remoteConnectionClosed || e == .readTimeout || e == .connectTimeout
        }
        return false
    }

    static func describe(_ error: any Error, timeout: Int) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .readTimeout, .deadlineExceeded: return "the API did not answer within \(timeout) s"
            case .connectTimeout: return "the API could not be reached within \(timeout) s"
            default: break
            }
        }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "the API refused the connection" }
        if text.lowercased().contains("certificate") || text.contains("handshake") { return "the API's TLS certificate was not accepted (\(text.prefix(120)))" }
        return "the API could not be reached (\(text.prefix(160)))"
    }
}
