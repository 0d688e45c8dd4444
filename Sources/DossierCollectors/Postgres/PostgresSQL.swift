/// The data map's lookup SQL in PostgreSQL's terms: `:value` becomes the positional parameter `$1`,
/// which is bound, never spliced.
///
/// The text is scanned as PostgreSQL's lexer would for what matters here: string literals (`'…'`,
/// `E'…'` with backslash escapes), quoted identifiers (`"…"`), dollar-quoted strings (`$$…$$`,
/// `$tag$…$tag$`), comments (`--`, nested `/* */`) and type casts (`::text`), so that `':value'` in
/// a literal or `x::value` stay as they are.
///
/// ```swift
/// PostgresSQL.positional("SELECT * FROM c WHERE lower(email) = :value AND note <> ':value'")
/// // .sql == "SELECT * FROM c WHERE lower(email) = $1 AND note <> ':value'", .binds == 1
/// ```
enum PostgresSQL {
    struct Rewritten: Equatable {
        /// The statement with `$1` for every `:value`.
        var sql: String
        /// How many times `:value` occurs.
        var values: Int
        /// Positional parameters (`$2`) already in the text: the map may not use them.
        var positional: [String]
        /// Other `:name` parameters: only `:value` is bound.
        var named: [String]
    }

    static func positional(_ sql: String) -> Rewritten {
        let s = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var result = Rewritten(sql: "", values: 0, positional: [], named: [])
        var i = 0
        func isIdent(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" }
        func copy(to end: Int) { out.append(contentsOf: s[i..<min(end, s.count)]); i = min(end, s.count) }
        while i < s.count {
            let c = s[i]
            let next: Unicode.Scalar? = i + 1 < s.count ? s[i + 1] : nil
            switch c {
            case "'", "\"":
                // A literal or quoted identifier; a doubled quote stays inside; E'…' also takes \'.
                let escapes = c == "'" && i > 0 && (s[i - 1] == "E" || s[i - 1] == "e") && (i < 2 || !isIdent(s[i - 2]))
                var j = i + 1
                while j < s.count {
                    if escapes, s[j] == "\\" { j += 2; continue }
                    if s[j] == c { if j + 1 < s.count, s[j + 1] == c { j += 2; continue }; break }
                    j += 1
                }
                copy(to: j + 1)
            case "-" where next == "-":
                var j = i
                while j < s.count, s[j] != "\n" { j += 1 }
                copy(to: j)
            case "/" where next == "*":
                var depth = 0, j = i
                repeat {
                    if j + 1 < s.count, s[j] == "/", s[j + 1] == "*" { depth += 1; j += 2 }
                    else if j + 1 < s.count, s[j] == "*", s[j + 1] == "/" { depth -= 1; j += 2 }
                    else { j += 1 }
                } while depth > 0 && j < s.count
                copy(to: j)
            case "$":
                if let n = next, ("0"..."9").contains(n) {
                    var j = i + 1
                    while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
                    result.positional.append(String(String.UnicodeScalarView(s[i..<j])))
                    copy(to: j)
                } else if i == 0 || !isIdent(s[i - 1]) {
                    // A dollar quote: $tag$ … $tag$ (the tag may be empty).
                    var j = i + 1
                    while j < s.count, isIdent(s[j]), !("0"..."9").contains(s[i + 1]) { j += 1 }
                    if j < s.count, s[j] == "$" {
                        let tag = Array(s[i...j])
                        var k = j + 1
                        while k + tag.count <= s.count, Array(s[k..<k + tag.count]) != tag { k += 1 }
                        copy(to: k + tag.count <= s.count ? k + tag.count : s.count)
                    } else {
                        copy(to: i + 1)
                    }
                } else {
                    copy(to: i + 1)
                }
            case ":":
                if next == ":" {
                    // A cast: `::type` and its name stay as they are.
                    var j = i + 2
                    while j < s.count, isIdent(s[j]) { j += 1 }
                    copy(to: j)
                } else if let n = next, n.properties.isAlphabetic || n == "_", i == 0 || !isIdent(s[i - 1]) && s[i - 1] != ":" {
                    // A parameter (`:value`); after a name or number it is an array slice (`a[1:n]`).
                    var j = i + 1
                    while j < s.count, isIdent(s[j]) { j += 1 }
                    let name = String(String.UnicodeScalarView(s[i..<j]))
                    if name == ":value" {
                        out.append(contentsOf: "$1".unicodeScalars)
                        result.values += 1
                        i = j
                    } else {
                        result.named.append(name)
                        copy(to: j)
                    }
                } else {
                    copy(to: i + 1)
                }
            default:
                copy(to: i + 1)
            }
        }
        result.sql = String(out)
        return result
    }
}
