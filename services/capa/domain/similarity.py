"""Which words of a problem description are worth searching past lessons for, and
the full-text queries built from them (PostgreSQL and SQLite FTS5).

Suggestions rank lessons and root causes by how many of the description's words
they share (weighted by the database: ``ts_rank`` or ``bm25``). So the query ORs
the words: a long problem statement ANDed would match nothing.

The text comes from people and tools, so it is never put into a query as typed:
it is cut into words (letters, digits and their combining marks, after NFKC), and each word is
quoted in the FTS5 query. FTS5's own syntax (``NEAR(``, ``*``, ``"``, ``OR``,
column filters) therefore never reaches the database. PostgreSQL's
``websearch_to_tsquery`` never raises a syntax error, and gets only words joined
by ``or``, its OR operator.
"""

import unicodedata
from collections.abc import Iterable
from itertools import groupby

# The search configuration, fixed in the migration that built the indexes: the
# PostgreSQL text-search configuration ("english": Snowball stemming, its stop
# words) and, on SQLite, FTS5's Porter stemmer. Changing it means rebuilding the
# index (a new migration), which is why it is no setting.
LANGUAGE = "english"
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"

# More words add little to the ranking but cost every query; the first ones of a
# problem statement are usually the telling ones (its subject).
MAX_TERMS = 32
MIN_TERM_LENGTH = 2
MAX_TERM_LENGTH = 40

# English function words, dropped on both databases so they behave alike
# (PostgreSQL's "english" configuration drops these; FTS5 drops none). A text of
# only these finds nothing rather than everything.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your
yours yourself yourselves
""".split())

# A word: letters and digits of any script (after NFKC), with the combining marks
# (Unicode Mn, Mc) inside it. Indic scripts write vowel signs and the virama as
# marks (हिन्दी is ह ि न ् द ी): cut at the marks, such words fall apart into
# fragments no lesson holds (and İstanbul lost its first letter). Underscores and
# everything else separate words. (Python's re has no \p{M}, hence the scan.)
_MARKS = frozenset(("Mn", "Mc"))


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char) in _MARKS


def _words(text: str) -> list[str]:
    return ["".join(chars) for inside, chars in groupby(text, _is_word_char) if inside]


def search_terms(text: str | Iterable[str]) -> list[str]:
    """The distinct, lower-cased words of ``text`` worth searching for, in order."""
    parts = [text] if isinstance(text, str) else list(text)
    terms: list[str] = []
    seen: set[str] = set()
    for part in parts:
        # Casefolding İ gives i + U+0307; both databases index İstanbul as
        # "istanbul" (PostgreSQL's lower(), FTS5's diacritic removal), so the dot goes.
        normal = unicodedata.normalize("NFKC", part).casefold().replace("i\u0307", "i")
        for word in _words(normal):
            if (len(word) < MIN_TERM_LENGTH or len(word) > MAX_TERM_LENGTH
                    or word in STOP_WORDS or word in seen):
                continue
            seen.add(word)
            terms.append(word)
            if len(terms) == MAX_TERMS:
                return terms
    return terms


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each a quoted string (so no word
    is read as an operator, prefix or column filter)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def websearch_query(terms: list[str]) -> str:
    """Input for PostgreSQL's ``websearch_to_tsquery``: any of the terms."""
    return " or ".join(terms)


def analysis_text(problem_statement: str | None, whys: Iterable[dict[str, str]],
                  root_cause: str | None = None) -> list[str]:
    """What a CAPA's own analysis says, problem first: the text its suggestions are
    searched with."""
    parts = [problem_statement or ""]
    for step in whys:
        parts += [step.get("why", ""), step.get("because", "")]
    parts.append(root_cause or "")
    return [p for p in parts if p]


def link_rate(offered: int, linked: int) -> float | None:
    """Share of suggestions offered that someone linked; None when none were offered."""
    return round(linked / offered, 4) if offered else None
