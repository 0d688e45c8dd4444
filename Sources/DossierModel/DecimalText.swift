/// Plain decimal numerals, `[0-9]+(\.[0-9]+)?` (after one leading `-` when `signed`): the map's
/// amounts, and the key values a dataset's records are sorted by as numbers. Checked byte by byte:
/// a regular expression is compiled by ICU on its first use in a process (2-3 ms of every single
/// export, when the map's amounts were checked so).
///
/// ```swift
/// DecimalText.isPlain("25.00")             // true
/// DecimalText.isPlain("-1")                // false
/// DecimalText.isPlain("-1", signed: true)  // true
/// DecimalText.isPlain("5.")                // false
/// ```
public enum DecimalText {
    public static func isPlain(_ s: String, signed: Bool = false) -> Bool {
        var bytes = s.utf8[...]
        if signed, bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        var digits = 0, point = false
        for b in bytes {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: ".") where digits > 0 && !point: point = true; digits = 0
            default: return false
            }
        }
        return digits > 0
    }
}
