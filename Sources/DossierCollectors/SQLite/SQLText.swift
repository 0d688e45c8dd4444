import Foundation

/// Light checks of SQL text before any database is opened; the SQLite collector prepares each
/// statement itself and rejects one that would write.
enum SQLText {
    static func bindsValue(_ sql: String) -> Bool { parameters(sql).contains(":value") }

    static func otherParameter(_ sql: String) -> String? { parameters(sql).first { $0 != ":value" } }

    /// Named parameters (`:name`, `@name`, `$name`) and `?` outside string literals and comments.
    static func parameters(_ sql: String) -> [String] {
        var result: [String] = []
        let chars = Array(sql.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "'" || c == "\"" {
                i += 1
                while i < chars.count, chars[i] != c { i += 1 }
                i += 1
                continue
            }
            if c == "-", i + 1 < chars.count, chars[i + 1] == "-" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "?" { result.append("?"); i += 1; continue }
            if c == ":" || c == "@" || c == "$" {
                var j = i + 1
                while j < chars.count, chars[j].properties.isAlphabetic || ("0"..."9").contains(chars[j]) || chars[j] == "_" { j += 1 }
                if j > i + 1 { result.append(String(String.UnicodeScalarView(chars[i..<j]))) }
                i = j
                continue
            }
            i += 1
        }
        return result
    }
}
