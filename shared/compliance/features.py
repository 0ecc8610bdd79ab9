"""The CAPAflow features a requirement can be met by, each pointing at the doc that explains it.

A feature names its doc section by heading text, not by a hand-written anchor: the matrix
derives the anchor, and a unit test checks that the heading still exists.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    summary: str
    doc: str  # a file under docs/
    section: str  # a heading of that file, as written there

    @property
    def anchor(self) -> str:
        """The anchor GitHub and most Markdown renderers give ``section``."""
        kept = "".join(c for c in self.section.lower() if c.isalnum() or c in " -_")
        return kept.replace(" ", "-")


NC_INTAKE = Feature(
    "Nonconformity intake",
    "people and support tools report NCs (a complaint keeps its ticket reference and is "
    "taken once), Alertmanager, Grafana and signed webhooks feed monitoring NCs, auditors "
    "record findings against a clause; every NC gets a readable number and a history",
    "nonconformity.md", "Report a nonconformity (support tools, people)")
NC_TRIAGE = Feature(
    "Triage and correction",
    "an NC is accepted, rejected or marked a duplicate with a reason and an owner; the "
    "correction (immediate containment) is recorded on it; each step lands in its history",
    "nonconformity.md", "Triage, correction, edit, close, reopen")
ESCALATION = Feature(
    "Escalation policy and recurrence",
    "serious NCs and major audit findings ask for a CAPA at once; the same problem seen N "
    "times within a window asks for one too; a recurrence while a CAPA is open joins it",
    "nonconformity.md", "Escalation policy")
ROOT_CAUSE = Feature(
    "Root-cause analysis (5 Whys)",
    "problem statement, a why-because chain of at least three levels (or a justification), "
    "root cause and cause category; a submission must be complete and every submitted "
    "version is kept",
    "capa.md", "Root-cause analysis")
ACTIONS = Feature(
    "Actions and the CAPA workflow",
    "corrective and preventive actions with owner and due date; done needs completion "
    "evidence; the workflow will not move on until analysis, actions and verification are "
    "in place",
    "capa.md", "Workflow")
EFFECTIVENESS = Feature(
    "Effectiveness verification",
    "a plan (criteria, check date), then a result with evidence by someone who did not own "
    "the CAPA during its implementation, not before the check date unless a manager "
    "overrides with a recorded reason; not effective reopens the investigation; only an "
    "effective result lets a manager close",
    "capa.md", "Effectiveness on schedule")
TIMELINESS = Feature(
    "Due dates, reminders and overdue notices",
    "a due date from the severity, reminders before it, overdue notices after it, for "
    "actions and CAPAs, e-mailed to their owner once each",
    "capa.md", "Reminders")
RISK = Feature(
    "Risk score and preventive CAPAs",
    "risk = severity times likelihood on every CAPA, re-assessed and audited when the "
    "likelihood changes; a preventive CAPA starts from a risk without any NC",
    "capa.md", "Opening")
LESSONS = Feature(
    "Lessons learned",
    "closing a CAPA publishes what to do differently (problem, root cause, actions, tags), "
    "searchable and served as Atom and JSON feeds",
    "notifications.md", "Lessons-learned feed")
REVIEW = Feature(
    "Management-review figures",
    "open CAPAs by state and age, overdue, time to close, effectiveness and reopen rates, "
    "Paretos of causes and NC sources, NCs per week by source; a dashboard in the UI",
    "capa.md", "Management-review figures (ISO 9001 9.3)")
DISSEMINATION = Feature(
    "Notifications",
    "subscriptions turn every NC and CAPA event into signed webhooks, e-mail, Slack "
    "messages or a live stream; reminders and overdue notices reach the owner",
    "notifications.md", "Owner notices")
AUDIT_TRAIL = Feature(
    "Hash-chained audit trail",
    "every change to a CAPA appends who, when, what before and after, and why, chained by "
    "HMAC with a keyed head; verification finds an edited, removed or truncated entry; "
    "NCs keep a history of every step",
    "capa.md", "Audit trail")
RECORD_COPIES = Feature(
    "Records readable in full",
    "every record, its audit trail and its analysis versions read as JSON through the API "
    "(cursor pages that cover every row once) and as pages in the web UI; events carry "
    "each change to subscribers",
    "capa.md", "Endpoints")
ACCESS = Feature(
    "Authentication",
    "API keys stored hashed and revocable at once, OpenID Connect sign-in for people "
    "(the provider's tokens checked for signature, issuer, audience and expiry), UI "
    "sessions with CSRF protection; monitoring sources hold tokens that reach only their "
    "intake",
    "sign-in.md", "What happens")
ROLES = Feature(
    "Role checks",
    "every write checks the caller's role (reporter, engineer, verifier, manager, admin), "
    "mapped from the provider's claim for OIDC; closing needs a manager and the owner "
    "cannot verify",
    "nonconformity.md", "Who may do what")
SEQUENCING = Feature(
    "Enforced state machines",
    "the CAPA and NC lifecycles refuse moves that do not exist (409 naming the allowed "
    "ones) and moves whose guard is not met (409 saying what is missing)",
    "capa.md", "Workflow")
SOURCE_CHECKS = Feature(
    "Checked input sources",
    "each monitoring source authenticates with its own token; generic webhooks are "
    "verified by their Standard Webhooks HMAC signature, timestamp and id",
    "nonconformity.md", "Generic signed webhooks")
IDENTITIES = Feature(
    "One identity per person",
    "subjects and owners are compared in one canonical form (NFKC, case-folded); "
    "invisible characters and mixed-script look-alikes are refused, so one person cannot "
    "appear as two nor two as one",
    "capa.md", "Identities and who verifies")
EVIDENCE = Feature(
    "Evidence files",
    "objective evidence (specs, photos, line data) attached to NCs, actions and "
    "effectiveness verifications: types checked against the bytes, stored once by SHA-256, "
    "the hash in the audit trail and the event, downloads with role checks",
    "nonconformity.md", "Evidence files")
SIGNATURES = Feature(
    "Electronic signatures",
    "approving the root-cause analysis, recording an effectiveness verification and closing "
    "can carry a signature: signer, printed name, UTC time and meaning, bound by SHA-256 to "
    "exactly what was signed, in the audit trail and the event, verifiable later; only a "
    "person who authenticated at the provider minutes ago can sign, never an API key",
    "signatures.md", "What is signed (§11.50, §11.70)")
GENERATED_DOCS = Feature(
    "Documentation under change control",
    "the documentation lives beside the code under version control; the generated parts "
    "(event schemas, AsyncAPI, this matrix) fail the tests when they fall behind the code",
    "operations.md", "The event contract")
