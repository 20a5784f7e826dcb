"""Written answers for :mod:`autograder.similarity`: content words and pairs of nearby words.

Lower-case words, stop words dropped, a light suffix stemmer ('ranked', 'ranks', 'ranking' are one
word). The pairs are of consecutive words and of words one apart, so that one swapped or inserted
word leaves a pair standing. A light paraphrase (a few words swapped, a clause moved) keeps most
words and many pairs; two independent answers to the same question share few pairs once the
question's own words are taken out.

>>> words, pairs = shingles(content_words("The model ranks the pairs correctly"))
>>> sorted(words), sorted(pairs)
(['correct', 'model', 'pair', 'rank'], ['model pair', 'model rank', 'pair correct', 'rank correct', 'rank pair'])
"""

from __future__ import annotations

import re

from autograder.similarity_code import merge

_WORD = re.compile(r"[^\W_]+")
_SUFFIXES = ("ations", "ation", "ingly", "ings", "ing", "edly", "ed", "ies", "es", "ly", "s", "e")
_STOP = """a an the and or but if then so thus hence of to in on at by for with from as is are was were be been
    being it its this that these those there their they them which who whom what when where while than too very
    can could would should will shall may might must do does did done not no nor only own same such just also into
    onto over under about after before again further once here all any both each few more most other some we our
    you your he she his her i me my us"""
STOPWORDS = frozenset(_STOP.split())

Words = list[tuple[str, int, int]]  # (stem, start, end) in the answer's text


def stem(word: str) -> str:
    """A light suffix stripper.

    >>> [stem(w) for w in ("ranked", "ranks", "ranking", "gradient", "pairs")]
    ['rank', 'rank', 'rank', 'gradient', 'pair']
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> Words:
    """``(stem, start, end)`` of each word of ``text`` that is not a stop word."""
    out = []
    for m in _WORD.finditer(text):
        word = m.group().lower()
        if word not in STOPWORDS:
            out.append((stem(word), m.start(), m.end()))
    return out


def shingles(words: Words) -> tuple[set[str], set[str]]:
    """The words, and the pairs of words at most one word apart (joined by a space)."""
    stems = [w for w, _, _ in words]
    return set(stems), {f"{a} {b}" for gap in (1, 2) for a, b in zip(stems, stems[gap:])}


def written_index(
    written: dict[str, str], given: tuple[set[str], set[str]]
) -> tuple[dict[str, Words], dict[str, set[str]], dict[str, set[str]]]:
    """Per cell: its words, and its word and pair sets less those of the ``given`` text (question, release)."""
    words, uni, bi = {}, {}, {}
    for cell, text in written.items():
        words[cell] = content_words(text)
        u, b = shingles(words[cell])
        uni[cell], bi[cell] = u - given[0], b - given[1]
    return words, uni, bi


def written_matches(words_a: dict[str, Words], words_b: dict[str, Words], shared: set[str]) -> tuple[dict, dict]:
    """``{cell: [(start, end), ...]}`` on each side: the words of each pair in ``shared``."""
    out: tuple[dict, dict] = ({}, {})
    for side, words in ((0, words_a), (1, words_b)):
        for cell, ws in words.items():
            spans = []
            for gap in (1, 2):
                for (w1, s1, e1), (w2, s2, e2) in zip(ws, ws[gap:]):
                    if f"{w1} {w2}" in shared:
                        spans += [(s1, e1), (s2, e2)]
            if spans:
                out[side][cell] = merge(spans)
    return out
