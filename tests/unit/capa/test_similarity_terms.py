"""The words searched for similar lessons, and the queries built from them: no
operator of FTS5 or PostgreSQL survives, stop words and repeats go, the number
of words is bounded."""

import sqlite3

import pytest

from services.capa.domain.similarity import (
    FTS5_TOKENIZER,
    MAX_TERM_LENGTH,
    MAX_TERMS,
    analysis_text,
    fts5_query,
    link_rate,
    search_terms,
    websearch_query,
)


def test_words_are_lower_cased_deduplicated_and_stop_words_dropped() -> None:
    assert search_terms("Why did the Gateway time out? The GATEWAY timed out!") == [
        "gateway", "time", "timed"]
    assert search_terms(["Seal leaks", "seal_leaks at 80 C"]) == ["seal", "leaks", "80"]
    assert search_terms("the of and was it") == []
    assert search_terms("") == []


def test_unicode_is_normalised_and_split_like_the_tokenizers() -> None:
    # NFKC: the "fi" ligature, full-width letters.
    assert search_terms("\ufb01le \uff27\uff41\uff54\uff45\uff57\uff41\uff59") \
        == ["file", "gateway"]
    assert search_terms("Straße ÉTIQUETTE") == ["strasse", "étiquette"]  # case-folded
    assert search_terms("timeout\u200bgateway \u202eleak") == ["timeout", "gateway", "leak"]
    assert search_terms("超时 网关 🙂") == ["超时", "网关"]
    # Combining marks stay inside the word: Devanagari vowel signs and virama (Mn,
    # Mc); İ casefolds to i + U+0307, spelt "i" as both databases index it.
    assert search_terms("हिन्दी लेबल") == ["हिन्दी", "लेबल"]
    assert search_terms("İstanbul") == ["istanbul"]
    assert search_terms("ka\u0301rto\u0308n") == ["kártön"]  # other marks kept
    assert search_terms("e\u0301tiquette a_b") == ["étiquette"]  # NFKC composes; _ splits
    assert search_terms("x" * (MAX_TERM_LENGTH + 1) + " ok") == ["ok"]


def test_the_number_of_words_is_bounded() -> None:
    terms = search_terms(" ".join(f"w{i}" for i in range(1000)))
    assert len(terms) == MAX_TERMS and terms[0] == "w0"


@pytest.mark.parametrize("hostile", [
    '"a" OR NEAR(b', "*", "NEAR(", "title: x", "-x", "^x", '""', "a AND", "(((", "\\",
    "x* OR y", "{a b}", "'; DROP TABLE capa_lessons; --"])
def test_hostile_fts5_syntax_becomes_quoted_words(hostile: str) -> None:
    terms = search_terms(hostile)
    query = fts5_query(terms)
    for term in terms:
        assert term.isalnum()
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize = '{FTS5_TOKENIZER}')")
    db.execute("INSERT INTO t VALUES ('near and or not drop table capa lessons x y b')")
    if query:  # MATCH '' is itself an error, so an empty query is never sent
        db.execute("SELECT bm25(t) FROM t WHERE t MATCH ?", (query,)).fetchall()


def test_queries_or_the_words() -> None:
    assert fts5_query(["gateway", "timeout"]) == '"gateway" OR "timeout"'
    assert websearch_query(["gateway", "timeout"]) == "gateway or timeout"


def test_a_capa_is_described_by_its_problem_whys_and_root_cause() -> None:
    assert analysis_text("Seals leak", [{"why": "Why?", "because": "Gasket hardens"}],
                         None) == ["Seals leak", "Why?", "Gasket hardens"]


def test_link_rate() -> None:
    assert link_rate(0, 0) is None
    assert link_rate(4, 1) == 0.25
