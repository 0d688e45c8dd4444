import AsyncHTTPClient
import Crypto
import DossierModel
import Foundation
import NIOCore
import NIOSSL

/// Sends one archive to another controller's endpoint (Art. 20(2)): one HTTPS POST of the file,
/// streamed from disk, with an idempotency key the receiver uses to recognise a retry, retried with
/// a backoff when the answer is lost or the receiver is busy. TLS is verified; plain http is refused;
/// redirects are not followed (the body would have to be sent again to an address nobody chose).
///
/// ```swift
/// let destination = try Transmitter.Destination(address: "https://import.example.com/v1/archives",
///                                               token: ProcessInfo.processInfo.environment["RECEIVER_TOKEN"])
/// let receipt = try await Transmitter(destination).send(TransmittedFile(
///     url: archive, name: "dossier-DSR-2026-0001-copy1.zip", contentType: "application/zip",
///     size: 41_233, sha256: sha, idempotencyKey: key))
/// print(receipt.status, receipt.responseSHA256)
/// ```
public struct Transmitter: Sendable {
    /// Where the archive goes and how to be let in.
    public struct Destination: Sendable {
        public let url: URL
        /// `Authorization: Bearer …`, from the environment; never stored or printed.
        public let token: String?
        /// A PEM file of further authorities to trust (a receiver on a private authority).
        public let caFile: String?
        /// The longest one attempt may take, upload and answer together.
        public let timeout: Int

        /// Refuses anything but an absolute https address with a host and no user information.
        public init(address: String, token: String? = nil, caFile: String? = nil, timeout: Int = 600) throws(DossierError) {
            guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), url.host?.isEmpty == false else {
                throw DossierError(.usage, "the destination is not an address such as https://import.example.com/archives")
            }
            guard scheme == "https" else {
                throw DossierError(.usage, "the destination must be an https:// address: an archive of personal data is never sent over plain \(scheme)")
            }
            guard url.user == nil, url.password == nil else {
                throw DossierError(.usage, "the destination must not carry credentials in the address; give a token through the environment")
            }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw DossierError(.usage, "cannot read the authority file: \(Unreadable.reason(caFile))", at: SourceLocation(file: caFile))
            }
            guard timeout > 0 else { throw DossierError(.usage, "the time limit of a transmission must be at least 1 second") }
            self.url = url; self.token = token; self.caFile = caFile; self.timeout = timeout
        }

        /// The address without its query or fragment: what the ledger records as the destination.
        public var recorded: String {
            var parts = URLComponents(url: url, resolvingAgainstBaseURL: false)
            parts?.query = nil
            parts?.fragment = nil
            return parts?.string ?? "https://\(host)"
        }

        public var host: String { url.host ?? "" }
    }

    /// The answer of the receiver that accepted the archive (2xx).
    public struct Receipt: Sendable {
        public let status: Int
        public let responseSHA256: String
        public let responseSize: Int
        /// The first 4 KiB of the answer when it is text; nil otherwise.
        public let responseText: String?
        public let attempts: Int
    }

    /// Why a transmission did not go through, with what the receiver last answered.
    public struct Failure: Error, Sendable {
        public let error: DossierError
        /// The receiver's last status, nil when it never answered.
        public let status: Int?
        public let responseSHA256: String?
        public let responseSize: Int?
        public let responseText: String?
        public let attempts: Int
    }

    /// Most attempts of one transmission, longest wait a `Retry-After` may ask for, largest answer read.
    public static let attempts = 5
    public static let maxRetryAfter = 60
    public static let maxResponse = 1 << 20
    static let keptText = 4096

    let destination: Destination

    public init(_ destination: Destination) { self.destination = destination }

    /// POSTs the file; returns the receipt of the first 2xx answer. A lost answer, a timeout, 408, 429
    /// and 5xx are retried with the same idempotency key; any other answer ends it.
    public func send(_ file: TransmittedFile) async throws(Failure) -> Receipt {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = destination.caFile { tls.additionalTrustRoots = [.file(ca)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(30), read: .seconds(Int64(destination.timeout)))
        // Connections are retried here, with the same key, and only when trying again can help: the
        // client's own retries would keep a certificate it cannot trust failing for the whole connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let outcome: Result<Receipt, Failure>
        do throws(Failure) { outcome = .success(try await send(file, with: client)) } catch { outcome = .failure(error) }
        try? await client.shutdown()
        return try outcome.get()
    }

    func send(_ file: TransmittedFile, with client: HTTPClient) async throws(Failure) -> Receipt {
        let host = destination.host
        var attempt = 0
        var last: (status: Int, sha256: String, size: Int, text: String?)?
        func fail(_ error: DossierError) -> Failure {
            Failure(error: error, status: last?.status, responseSHA256: last?.sha256, responseSize: last?.size, responseText: last?.text, attempts: attempt)
        }
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: destination.url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: file.contentType)
            request.headers.add(name: "Content-Disposition", value: "attachment; filename=\"\(file.name)\"")
            request.headers.add(name: "Idempotency-Key", value: file.idempotencyKey)
            // RFC 9530: the receiver can check that what arrived is what was sent.
            request.headers.add(name: "Content-Digest", value: "sha-256=:\(Self.base64(hex: file.sha256)):")
            request.headers.add(name: "User-Agent", value: "Dossier")
            request.headers.add(name: "Accept", value: "application/json, text/plain;q=0.9, */*;q=0.1")
            if let token = destination.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            request.body = .stream(FileChunks(url: file.url), length: .known(Int64(file.size)))

            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(Int64(destination.timeout)))
            } catch {
                if attempt < Self.attempts, Self.isTransient(error) {
                    await Self.pause(seconds: Self.backoff(attempt))
                    continue
                }
                // A certificate that cannot be trusted will not become trustworthy by trying again.
                throw fail(DossierError(Self.isCertificateProblem(error) ? .outputUnavailable : .busy,
                                        "the transmission to \(host) failed: \(Self.describe(error, timeout: destination.timeout))"))
            }
            let status = Int(response.status.code)
            let answer: (sha256: String, size: Int, text: String?)
            do {
                answer = try await Self.read(response.body)
            } catch {
                if attempt < Self.attempts, Self.isTransient(error) {
                    await Self.pause(seconds: Self.backoff(attempt))
                    continue
                }
                throw fail(DossierError(.busy, "the transmission to \(host) failed: its answer (\(status)) could not be read (\(Self.describe(error, timeout: destination.timeout)))"))
            }
            last = (status, answer.sha256, answer.size, answer.text)
            switch status {
            case 200..<300:
                return Receipt(status: status, responseSHA256: answer.sha256, responseSize: answer.size, responseText: answer.text, attempts: attempt)
            case 408, 429, 500..<600:
                guard attempt < Self.attempts else {
                    throw fail(DossierError(.busy, "the receiver at \(host) answered \(status) \(response.status.reasonPhrase) \(Self.attempts) times; nothing was accepted, try again later"))
                }
                let wait = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                await Self.pause(seconds: wait.map { Double(min(max($0, 0), Self.maxRetryAfter)) } ?? Self.backoff(attempt))
            case 300..<400:
                throw fail(DossierError(.refused, "the receiver at \(host) answered \(status) \(response.status.reasonPhrase), a redirect; an archive is not sent on to an address nobody chose: give the final address"))
            case 401, 403:
                throw fail(DossierError(.refused, "the receiver at \(host) refused the credentials (\(status) \(response.status.reasonPhrase))"))
            default:
                throw fail(DossierError(.refused, "the receiver at \(host) refused the archive (\(status) \(response.status.reasonPhrase))"))
            }
        }
    }

    /// Hashes the whole answer (at most `maxResponse` bytes), keeping its start when it is text.
    static func read(_ body: HTTPClientResponse.Body) async throws -> (sha256: String, size: Int, text: String?) {
        var hasher = SHA256()
        var size = 0
        var head: [UInt8] = []
        for try await chunk in body {
            size += chunk.readableBytes
            if size > maxResponse { throw NIOTooManyBytesError(maxBytes: maxResponse) }
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            if head.count < keptText { head += chunk.readableBytesView.prefix(keptText - head.count) }
        }
        let sha = Hex.string(hasher.finalize())
        var text = String(validating: head, as: UTF8.self)
        if text == nil, head.count == keptText {
            // cut inside a character: drop its first bytes, up to three
            for cut in 1...3 where text == nil { text = String(validating: head.dropLast(cut), as: UTF8.self) }
        }
        return (sha, size, text)
    }

    static func base64(hex: String) -> String {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            if let byte = UInt8(hex[index..<next], radix: 16) { bytes.append(byte) }
            index = next
        }
        return Data(bytes).base64EncodedString()
    }

    static func backoff(_ attempt: Int) -> Double { min(0.25 * Double(1 << min(attempt, 6)), 8) }

    static func pause(seconds: Double) async {
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    }

    static func isTransient(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError {
            return e == .remoteConnectionClosed || e == .readTimeout || e == .connectTimeout || e == .deadlineExceeded
        }
        if error is NIOTooManyBytesError { return false }
        let text = String(describing: error)
        return text.contains("connectionReset") || text.contains("Connection reset") || text.contains("uncleanShutdown")
            || text.contains("connectionRefused") || text.contains("Connection refused")
    }

    static func isCertificateProblem(_ error: any Error) -> Bool {
        let text = String(describing: error)
        return text.lowercased().contains("certificate") || text.contains("handshake")
    }

    static func describe(_ error: any Error, timeout: Int) -> String {
        if error is NIOTooManyBytesError { return "its answer is larger than \(maxResponse >> 20) MiB" }
        if let e = error as? HTTPClientError {
            switch e {
            case .readTimeout, .deadlineExceeded: return "no answer within \(timeout) s"
            case .connectTimeout: return "it could not be reached"
            case .remoteConnectionClosed: return "it closed the connection without answering"
            default: break
            }
        }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "it refused the connection" }
        if isCertificateProblem(error) {
            return "its TLS certificate was not accepted (\(text.prefix(120)))"
        }
        return "it could not be reached (\(text.prefix(160)))"
    }
}

/// The archive a transmission sends.
public struct TransmittedFile: Sendable {
    public let url: URL
    /// The name the receiver is told (`Content-Disposition`).
    public let name: String
    public let contentType: String
    public let size: Int
    /// Hex, as the ledger records it; sent as `Content-Digest`.
    public let sha256: String
    public let idempotencyKey: String
    public init(url: URL, name: String, contentType: String, size: Int, sha256: String, idempotencyKey: String) {
        self.url = url; self.name = name; self.contentType = contentType; self.size = size; self.sha256 = sha256
        self.idempotencyKey = idempotencyKey
    }
}

/// A file read in 64 KiB chunks, as the request body streams it: never the whole archive in memory.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let url: URL

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        mutating func next() async throws -> ByteBuffer? {
            guard let handle else { throw CocoaError(.fileReadNoSuchFile) }
            guard let data = try handle.read(upToCount: 1 << 16), !data.isEmpty else {
                try? handle.close()
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: url.path)) }
}
