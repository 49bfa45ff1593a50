"""Noise for the DAE phase (word deletion) and for up-sampled copies (stop-word deletion). Pure functions."""

import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_WORD = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def delete_words(words: Sequence[T], ratio: float, rng: random.Random) -> list[T]:
    """Keep each word when a uniform draw exceeds `ratio` (TSDAE's rule); at least one word is always kept."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"noise ratio must be in [0, 1), got {ratio}")
    kept = [w for w in words if rng.random() > ratio]
    if not kept and words:
        kept = [words[rng.randrange(len(words))]]
    return kept


def delete_token_words(input_ids: Sequence[int], word_ids: Sequence[int], ratio: float, rng: random.Random) -> list[int]:
    """Word deletion on token ids: `word_ids` gives each token's word (-1 for special tokens, which stay), so whole
    words go and nothing is re-tokenised."""
    kept = set(delete_words(sorted({w for w in word_ids if w >= 0}), ratio, rng))
    return [t for t, w in zip(input_ids, word_ids) if w < 0 or w in kept]


class StopWords(frozenset):
    """A stop-word list: a frozenset of lower-case words, and `source`, where it came from (the cards and
    `phase_metrics.json` name it)."""

    def __new__(cls, words: Iterable[str], source: str):
        self = super().__new__(cls, words)
        self.source = source
        return self

    def __reduce__(self):  # pickled (datasets' fingerprints, several processes) with its source
        return type(self), (frozenset(self), self.source)


def load_stopwords(language: str = "english", stopwords: Iterable[str] | None = None,
                   file: str | None = None) -> StopWords:
    """The user's list when given (`stopwords`, or `file`: one stop word a line, UTF-8); else nltk's stopwords corpus
    where it is installed (found through NLTK_DATA; nothing is downloaded: the authors' list, paper §3.2); else, for
    English, scikit-learn's `ENGLISH_STOP_WORDS` (the Glasgow Information Retrieval Group's list, 318 words), which
    installs with the package. A given list's words are lower-cased and stripped.

    Raises:
        OSError: a file that cannot be read, or is not UTF-8.
        LookupError: no list given, nltk's corpus not found, and `language` is not English.
    """
    if file is not None:
        try:
            stopwords = Path(file).read_text(encoding="utf-8").split()
        except UnicodeDecodeError as err:
            raise OSError(f"{file} is not UTF-8 (byte {err.start})") from None
        source = f"--stopwords_file {file}"
    else:
        source = "the given list"
    if stopwords is not None:
        words = {w.strip().lower() for w in stopwords if w.strip()}
        return StopWords(words, f"{source} ({len(words)} words)")
    from nltk.corpus import stopwords as corpus

    try:
        words = corpus.words(language)
        return StopWords(words, f"nltk's {language} stopwords corpus ({len(set(words))} words)")
    except LookupError:
        if language != "english":
            raise LookupError(f"no stop-word list for {language!r}: install nltk's 'stopwords' corpus and point "
                              "NLTK_DATA at it, or pass a list (--stopwords_file)") from None
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return StopWords(ENGLISH_STOP_WORDS, f"scikit-learn's ENGLISH_STOP_WORDS ({len(ENGLISH_STOP_WORDS)} words; "
                                         "nltk's stopwords corpus is not installed)")


def delete_stopwords(text: str, stopwords: frozenset[str], min_words: int = 2, rng: random.Random | None = None,
                     ratio: float = 0.5) -> str:
    """Lower-case and drop stop words (the authors' noise for up-sampled copies, paper §3.2). Without `rng` every stop
    word goes (the authors' rule); with `rng` each goes with probability `ratio`, so that several copies of one text
    are different texts. A text that would keep fewer than `min_words` words is returned lower-cased but otherwise
    whole."""
    words = _WORD.findall(text.lower())
    kept = [w for w in words if w not in stopwords or (rng is not None and rng.random() >= ratio)]
    return " ".join(kept if len(kept) >= min_words else words)
