import ArgumentParser
import DossierEngine
import DossierModel
import Foundation

/// `dossier request review`: the bundle a request would get, built into a private folder to look at.
struct RequestReview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Build the bundle a request would get into a private folder and say what was found, before anything leaves.",
        discussion: """
        Prints, per dataset, how many records were found and by which identifier (so that a namesake \
        stands out), and the folder (review/ID in the ledger's archives folder, readable by its owner \
        only) where the bundle waits, index.html first. Nothing is delivered. With \
        ledger.require_review: true in the data map, a copy is produced only after \
        'dossier request approve', and only while the data is what was reviewed.

        With --redact source/dataset/field (repeatable) and --reason, the bundle is built with \
        those fields withheld (each value replaced by "[withheld]"; the manifest lists the fields and \
        the reason, which the person is told); an approval then releases exactly that bundle.
        """)

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions

    @Option(name: .long, help: ArgumentHelp("Withhold this field from the bundle (source/dataset/field, e.g. crm/interactions/note); repeatable, with --reason.", valueName: "field"))
    var redact: [String] = []

    @Option(name: .long, help: ArgumentHelp("Why the fields are withheld (told to the person), e.g. \"the note is about a colleague's health (Art. 15(4))\".", valueName: "text"))
    var reason: String?

    func validate() throws {
        if !redact.isEmpty, reason?.trimmingCharacters(in: .whitespaces).isEmpty ?? true {
            throw ValidationError("--redact needs --reason: why the fields are withheld, which the person is told")
        }
        if redact.isEmpty, reason != nil { throw ValidationError("--reason goes with --redact") }
    }

    func run() async throws {
        let redactions = redact.isEmpty ? nil : ReviewRedactions(fields: redact, reason: reason ?? "")
        let review = try await options.service().review(id, redactions: redactions, today: try options.day())
        printFindings(title: "review: \(id)", counts: review.counts, foundBy: review.foundBy)
        if let redactions { print("withheld: \(redactions.fields.joined(separator: ", ")) (\(redactions.reason))") }
        print("bundle: \(review.folder.path) (open index.html)")
        if review.approvalStands {
            print("approved: the data is what \(review.request.approvedBy ?? "?") approved; the approval stands")
        } else {
            print("next: \(DossierError.NextStep.approve(request: id).command(options.pastable))")
        }
    }
}

/// `dossier request approve`: the release of the last reviewed bundle.
struct RequestApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve the bundle of a request's last review for release (recorded with the approver in the audit trail).")

    @Argument(help: "The request id.") var id: String
    @OptionGroup var options: LedgerOptions
    @Option(name: .long, help: ArgumentHelp("Who approves the release.", valueName: "name"))
    var by: String

    func run() async throws {
        try await options.service().approve(id, by: by, today: try options.day())
        print("approved: \(id)")
    }
}

/// `N records in M of K datasets`, then one line per dataset: its count and the identifiers that found it.
func printFindings(title: String, counts: [(dataset: String, count: Int)],
                   foundBy: [(dataset: String, identifiers: [(identifier: Identifier, records: Int)])]) {
    let records = counts.reduce(0) { $0 + $1.count }
    let held = counts.filter { $0.count > 0 }.count
    print("\(title): \(records) record\(records == 1 ? "" : "s") in \(held) of \(counts.count) datasets")
    let by = Dictionary(foundBy.map { ($0.dataset, $0.identifiers) }, uniquingKeysWith: { a, _ in a })
    for (dataset, count) in counts {
        guard count > 0 else { print("  \(dataset): none"); continue }
        let ids = (by[dataset] ?? []).map { "\($0.identifier.kind.name) \($0.identifier.value) (\($0.records))" }.joined(separator: ", ")
        print("  \(dataset): \(count) record\(count == 1 ? "" : "s"), found by \(ids)")
    }
}
