/// Bytes as lower-case hexadecimal, the form every SHA-256 in Dossier is stored and printed in.
///
/// ```swift
/// let text = Hex.string(SHA256.hash(data: data))   // "9f86d081…"
/// ```
///
/// One table lookup a nibble: `String(format: "%02x")` a byte, as this replaced, cost about 1 µs a
/// byte, 32 µs a digest, which was most of `audit verify`'s time a row.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func string<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
