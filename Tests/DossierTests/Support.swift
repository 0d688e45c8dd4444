import DossierModel
import Foundation

/// A fresh temporary folder for one test, removed by the caller's `defer`.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dossier-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A minimal valid data map with one source; `sources` replaces the sources block.
func dataMapYAML(sources: String, extraTop: String = "") -> String {
    """
    version: 1
    controller:
      name: Test Co
      supervisory_authority: { name: Authority }
      languages: [en, pl]
      default_region: PL
    purposes:
      service: { title: Service, legal_basis: contract }
      marketing: { title: { en: Marketing, pl: Marketing }, legal_basis: consent }
    categories:
      contact: { title: Contact details }
      identity: { title: Name }
    recipients:
      mailer: { title: Mailer, country: US, safeguard: SCC }
    \(extraTop)
    sources:
    \(sources)
    """
}

/// One CSV source with one dataset (`list/subscribers`, looked up by e-mail, for the recipient
/// `mailer`), for `dataMapYAML(sources:)`.
let listSource = """
  list:
    kind: csv
    path: list.csv
    datasets:
      subscribers:
        lookup: { email: Email }
        purposes: [marketing]
        recipients: [mailer]
        retention: { period: P2Y }
        origin: subject
        fields:
          Email: { category: contact }
"""
