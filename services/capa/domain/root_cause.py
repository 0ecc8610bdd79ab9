"""The root-cause analysis form: 5 Whys, root-cause statement, cause category."""

from dataclasses import dataclass, field
from enum import StrEnum

from shared.vocabulary import CauseCategory


class AnalysisStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"


# Fewer levels rarely reach a root cause; a justification may say why it did.
MIN_WHYS = 3


@dataclass(frozen=True)
class Why:
    why: str
    because: str


@dataclass(frozen=True)
class RootCauseForm:
    problem_statement: str | None = None
    whys: tuple[Why, ...] = ()
    short_chain_justification: str | None = None
    root_cause: str | None = None
    cause_category: CauseCategory | None = None
    contributing_factors: tuple[str, ...] = field(default=())


def _blank(text: str | None) -> bool:
    return not (text and text.strip())


def submission_errors(form: RootCauseForm) -> list[tuple[str, str]]:
    """(field, message) for everything a submitted analysis still lacks.

    A draft may be incomplete; a submission may not.
    """
    errors: list[tuple[str, str]] = []
    if _blank(form.problem_statement):
        errors.append(("problem_statement", "State the problem before submitting."))
    if len(form.whys) < MIN_WHYS and _blank(form.short_chain_justification):
        errors.append(("whys", f"Ask 'why?' at least {MIN_WHYS} times ({len(form.whys)} "
                               "given), or explain in short_chain_justification why fewer "
                               "levels reach the root cause."))
    for i, step in enumerate(form.whys):
        if _blank(step.why) or _blank(step.because):
            errors.append((f"whys.{i}", "Each level needs both a why and a because."))
    if _blank(form.root_cause):
        errors.append(("root_cause", "State the root cause before submitting."))
    if form.cause_category is None:
        errors.append(("cause_category", "Choose a cause category before submitting."))
    return errors
