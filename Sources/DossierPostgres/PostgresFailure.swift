import Foundation
import NIOCore
import PostgresNIO

/// A text parameter of no declared type: the server infers its type from the query.
public struct UntypedText: PostgresDynamicTypeEncodable {
    public let text: String
    public init(text: String) { self.text = text }
    public var psqlType: PostgresDataType { PostgresDataType(0) }
    public var psqlFormat: PostgresFormat { .text }
    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(text)
    }
}

/// postgres-nio's errors in Dossier's words.
public enum PostgresFailure {
    public static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// The server's SQLSTATE and message: for errors about the query's text, tables and rights.
    public static func serverMessage(_ error: PSQLError) -> String {
        let state = error.serverInfo?[.sqlState] ?? "?"
        // Class 22 (data exceptions) and 23 (constraints) may quote a value: only the code is given.
        if state.hasPrefix("22") || state.hasPrefix("23") { return "SQLSTATE \(state)" }
        return "\(error.serverInfo?[.message] ?? "an error") (SQLSTATE \(state))"
    }

    /// Why a connection failed or broke, without the password.
    public static func connectionReason(_ error: any Error) -> String {
        guard let psql = error as? PSQLError else { return "the server connection failed (\(type(of: error)))" }
        switch psql.code {
        case .server: return "the server refused: \(serverMessage(psql))"
        case .sslUnsupported: return "the server does not offer TLS, which the sslmode requires"
        case .authMechanismRequiresPassword: return "the server asks for a password and none is given"
        case .unsupportedAuthMechanism: return "the server asks for an authentication method that Dossier does not support"
        case .saslError: return "the password authentication (SCRAM) failed"
        case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection"
        case .connectionError:
            if let underlying = psql.underlying { return "cannot reach the server (\(short(underlying)))" }
            return "cannot reach the server"
        default: return "the server connection failed (\(psql.code))"
        }
    }

    static func short(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused" }
        if text.contains("timeout") || text.contains("Timeout") { return "no answer in time" }
        if text.contains("NXDOMAIN") || text.contains("resolve") || text.contains("getaddrinfo") { return "the host name does not resolve" }
        if text.contains("certificate") || text.contains("Certificate") || text.contains("handshake") { return "TLS failed: the certificate is not trusted or does not match" }
        return String(text.prefix(120))
    }
}
