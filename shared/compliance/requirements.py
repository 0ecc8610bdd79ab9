"""The requirement catalog: what each clause asks, in our own words, and what meets it.

The paraphrases are short summaries for finding one's way, not the standards' text; a
validation reads the standard itself. ``features`` empty means nothing in CAPAflow meets the
requirement yet; ``note`` says why (work in progress, or the buyer's own procedure).

ISO 13485:2016 8.5.2 letters its procedure requirements a) to f); the clause's two unlettered
sentences (act without undue delay and in proportion; keep records of the investigation and
the action) are catalogued beside them as ``-timely`` and ``-records``.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from shared.compliance.features import (
    ACCESS,
    ACTIONS,
    AUDIT_TRAIL,
    DISSEMINATION,
    EFFECTIVENESS,
    ESCALATION,
    EVIDENCE,
    GENERATED_DOCS,
    IDENTITIES,
    LESSONS,
    NC_INTAKE,
    NC_TRIAGE,
    RECORD_COPIES,
    REVIEW,
    RISK,
    ROLES,
    ROOT_CAUSE,
    SEQUENCING,
    SIGNATURES,
    SOURCE_CHECKS,
    TIMELINESS,
    Feature,
)

ISO_9001 = "ISO 9001:2015"
ISO_13485 = "ISO 13485:2016"
CFR_820 = "21 CFR 820.100"
PART_11 = "21 CFR Part 11"
STANDARDS = (ISO_9001, ISO_13485, CFR_820, PART_11)

BUYERS_PROCEDURE = "An organisational control: the buyer's own procedure, not software."


@dataclass(frozen=True)
class Requirement:
    id: str
    standard: str
    clause: str
    asks: str
    features: tuple[Feature, ...] = ()
    note: str = ""


def _r(id_: str, standard: str, clause: str, asks: str, *features: Feature,
       note: str = "") -> Requirement:
    return Requirement(id_, standard, clause, asks, features, note)


REQUIREMENTS: tuple[Requirement, ...] = (
    # ISO 9001:2015 10.2 Nonconformity and corrective action
    _r("iso9001-10.2.1a", ISO_9001, "10.2.1 a)",
       "React to a nonconformity: control and correct it, deal with its consequences.",
       NC_INTAKE, NC_TRIAGE),
    _r("iso9001-10.2.1b", ISO_9001, "10.2.1 b)",
       "Decide whether the cause must be removed: review the nonconformity, find its "
       "causes, look for similar ones that exist or could occur.",
       ESCALATION, ROOT_CAUSE),
    _r("iso9001-10.2.1c", ISO_9001, "10.2.1 c)", "Carry out the actions needed.", ACTIONS),
    _r("iso9001-10.2.1d", ISO_9001, "10.2.1 d)",
       "Review whether the corrective action worked.", EFFECTIVENESS),
    _r("iso9001-10.2.1e", ISO_9001, "10.2.1 e)",
       "Update the risks and opportunities from planning where needed.", RISK,
       note="CAPAflow scores the risk of each CAPA; an organisation-wide risk register "
            "stays outside it."),
    _r("iso9001-10.2.1f", ISO_9001, "10.2.1 f)",
       "Change the quality management system where needed.", ACTIONS, LESSONS,
       note="The change itself is made in the buyer's document control; CAPAflow records "
            "it as an action with evidence and publishes the lesson."),
    _r("iso9001-10.2.2", ISO_9001, "10.2.2",
       "Keep records of what the nonconformities were, what was done, and the results.",
       NC_TRIAGE, AUDIT_TRAIL, EFFECTIVENESS, EVIDENCE),
    # ISO 13485:2016 8.5.2 Corrective action
    _r("iso13485-8.5.2a", ISO_13485, "8.5.2 a)",
       "Review nonconformities, complaints included.", NC_INTAKE, NC_TRIAGE),
    _r("iso13485-8.5.2b", ISO_13485, "8.5.2 b)",
       "Determine the causes of nonconformities.", ROOT_CAUSE),
    _r("iso13485-8.5.2c", ISO_13485, "8.5.2 c)",
       "Evaluate whether action is needed so that nonconformities do not recur.",
       ESCALATION),
    _r("iso13485-8.5.2d", ISO_13485, "8.5.2 d)",
       "Plan, document and carry out the action, updating documents where needed.",
       ACTIONS),
    _r("iso13485-8.5.2e", ISO_13485, "8.5.2 e)",
       "Verify that the action does not harm regulatory compliance or the device's "
       "safety and performance.",
       note="No dedicated check yet: the effectiveness plan's criteria can state it, but "
            "nothing asks for it."),
    _r("iso13485-8.5.2f", ISO_13485, "8.5.2 f)",
       "Review the effectiveness of the corrective action.", EFFECTIVENESS),
    _r("iso13485-8.5.2-timely", ISO_13485, "8.5.2 (opening)",
       "Act without undue delay, in proportion to the effects of the nonconformity.",
       TIMELINESS, RISK),
    _r("iso13485-8.5.2-records", ISO_13485, "8.5.2 (closing)",
       "Keep records of the investigation and of the action taken.",
       ROOT_CAUSE, AUDIT_TRAIL, EVIDENCE),
    # 21 CFR 820.100 Corrective and preventive action
    _r("cfr820-100a1", CFR_820, "(a)(1)",
       "Analyse the sources of quality data (complaints, audits, process and service "
       "records...) for existing and potential causes, with statistics to spot recurring "
       "problems.", NC_INTAKE, ESCALATION, REVIEW),
    _r("cfr820-100a2", CFR_820, "(a)(2)",
       "Investigate the cause of nonconformities.", ROOT_CAUSE),
    _r("cfr820-100a3", CFR_820, "(a)(3)",
       "Identify the actions that correct the problem and prevent it recurring.",
       NC_TRIAGE, ACTIONS),
    _r("cfr820-100a4", CFR_820, "(a)(4)",
       "Verify or validate that the action is effective and does not harm the finished "
       "device.", EFFECTIVENESS,
       note="The harm to the device is checked only as far as the effectiveness criteria "
            "say so."),
    _r("cfr820-100a5", CFR_820, "(a)(5)",
       "Implement and record the changes to methods and procedures.", ACTIONS, LESSONS),
    _r("cfr820-100a6", CFR_820, "(a)(6)",
       "Make sure the people responsible for quality hear of quality problems.",
       DISSEMINATION),
    _r("cfr820-100a7", CFR_820, "(a)(7)",
       "Bring quality problems and their actions to management review.", REVIEW),
    _r("cfr820-100b", CFR_820, "(b)",
       "Document every activity of this section and its results.", AUDIT_TRAIL, EVIDENCE),
    # 21 CFR Part 11 Electronic records; electronic signatures
    _r("part11-11.10a", PART_11, "§11.10(a)",
       "Validate the system; be able to tell invalid or altered records.",
       AUDIT_TRAIL, GENERATED_DOCS,
       note="This matrix and the test suite are evidence for the buyer's validation, "
            "not the validation itself."),
    _r("part11-11.10b", PART_11, "§11.10(b)",
       "Produce accurate, complete copies of records, readable by people and machines, "
       "for inspection.", RECORD_COPIES),
    _r("part11-11.10c", PART_11, "§11.10(c)",
       "Protect records so they can be retrieved accurately throughout their retention.",
       note="NCs and CAPAs have no delete endpoint (an NC is closed, a CAPA cancelled or "
            "closed), but no test shows it yet; backups and retention are the operator's "
            "(docs/operations.md, PostgreSQL)."),
    _r("part11-11.10d", PART_11, "§11.10(d)",
       "Let only authorised people into the system.", ACCESS),
    _r("part11-11.10e", PART_11, "§11.10(e)",
       "Keep secure, computer-made, time-stamped audit trails of who created, changed or "
       "deleted what, without hiding earlier values.", AUDIT_TRAIL),
    _r("part11-11.10f", PART_11, "§11.10(f)",
       "Enforce the permitted order of steps.", SEQUENCING),
    _r("part11-11.10g", PART_11, "§11.10(g)",
       "Check authority before someone signs, changes a record or performs an operation.",
       ROLES),
    _r("part11-11.10h", PART_11, "§11.10(h)",
       "Check, where appropriate, that input comes from a valid source.", SOURCE_CHECKS),
    _r("part11-11.10i", PART_11, "§11.10(i)",
       "Make sure the people who build, run and use the system are trained for it.",
       note=BUYERS_PROCEDURE),
    _r("part11-11.10j", PART_11, "§11.10(j)",
       "Hold people accountable, by written policy, for what they sign electronically.",
       note=BUYERS_PROCEDURE),
    _r("part11-11.10k", PART_11, "§11.10(k)",
       "Control the system's documentation: who gets it, and revision control with a "
       "history.", GENERATED_DOCS),
    _r("part11-11.50", PART_11, "§11.50",
       "Show with each signature the signer's printed name, the date and time, and its "
       "meaning.", SIGNATURES),
    _r("part11-11.70", PART_11, "§11.70",
       "Link signatures to their records so they cannot be cut out, copied or moved.",
       SIGNATURES),
    _r("part11-11.100", PART_11, "§11.100",
       "Make each electronic signature unique to one person, never reused or reassigned.",
       IDENTITIES, SIGNATURES),
    _r("part11-11.200", PART_11, "§11.200",
       "Build non-biometric signatures from at least two identification components "
       "(such as an id and a password), with re-authentication rules.",
       SIGNATURES,
       note="The two components are the provider's (CAPAflow never sees a password): a "
            "signature needs an authentication at most CAPA_SIGNATURE_MAX_AGE_MINUTES old."),
)

BY_ID: dict[str, Requirement] = {r.id: r for r in REQUIREMENTS}


def unknown(ids: Iterable[str]) -> list[str]:
    """The ids among ``ids`` that name no requirement, in the order given, once each."""
    return list(dict.fromkeys(i for i in ids if i not in BY_ID))
