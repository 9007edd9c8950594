"""Text normalisation that makes tweets, headlines and filings look alike to a model.

Source-specific tokens carry little sentiment but a lot of vocabulary: a URL, the ticker of the day or
the exact size of a number. Replacing them by placeholder words lets a model trained on one source
(tweets) transfer to another (news, filings) and keeps hashed features from spreading over one-off
tokens. Signed percentages keep their sign (``+5%`` and ``-5%`` are different evidence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["normalize_for_embedding", "normalize_text", "normalize_texts"]

# Ordered (guard, pattern, replacement): a rule runs only when its guard substring occurs (None: always),
# which skips most regex passes on a typical short text; plain string replacements keep the work in C.
_RULES: tuple[tuple[str | None, re.Pattern[str], str], ...] = (
    ("http", re.compile(r"https?://\S+"), " xurl "),
    ("www.", re.compile(r"www\.\S+"), " xurl "),
    ("@", re.compile(r"@\w+"), " xuser "),
    # exchange-qualified tickers: (NYSE:XYZ), NASDAQ: XYZ, LSE:ABC
    (":", re.compile(r"\b(?:NYSE|NASDAQ|Nasdaq|AMEX|LSE|TSX|OTC)\s*:\s*[A-Za-z.]{1,6}\b"), " xticker "),
    ("$", re.compile(r"\$[A-Za-z][A-Za-z.]{0,5}\b"), " xticker "),  # cashtags $AAPL, $BRK.B
    ("%", re.compile(r"[+▲]\s?\d[\d,]*(?:\.\d+)?\s?%"), " xpctup "),
    ("%", re.compile(r"(?:-|−|▼)\s?\d[\d,]*(?:\.\d+)?\s?%"), " xpctdown "),
    ("%", re.compile(r"\d[\d,]*(?:\.\d+)?\s?%"), " xpct "),
    (
        None,
        re.compile(
            r"(?:[$€£¥]|\b(?:USD|EUR|GBP)\s?)\d[\d,]*(?:\.\d+)?\s?(?:[kKmMbB]n?|mln|mn|bln|billion|million)?\b"
        ),
        " xmoney ",
    ),
    (None, re.compile(r"(?<![A-Za-z])\d[\d,]*(?:\.\d+)?"), " xnum "),
    ("#", re.compile(r"#(\w+)"), r" \1 "),
)
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def normalize_text(text: str) -> str:
    """Lower-cased text with URLs, users, tickers/cashtags, percentages, money and numbers as placeholders.

    Examples
    --------
    >>> normalize_text("$AAPL up +3.5% to $150 https://t.co/x")
    'xticker up xpctup to xmoney xurl'
    """
    has_digit = _DIGIT.search(text) is not None
    for guard, pattern, repl in _RULES:
        if guard is None and not has_digit:  # the unguarded rules (money, numbers) need a digit
            continue
        if guard is not None and guard not in text:
            continue
        text = pattern.sub(repl, text)
    return " ".join(text.lower().split())


def normalize_texts(texts: Iterable[str]) -> list[str]:
    """:func:`normalize_text` over many texts."""
    return [normalize_text(t) for t in texts]


def normalize_for_embedding(text: str) -> str:
    """Light clean-up for the sentence-embedding model: URLs dropped, whitespace collapsed.

    The embedding model understands tickers and numbers in context, so they are kept as written.
    """
    cleaned = _SPACE.sub(" ", _URL.sub(" ", text)).strip()
    return cleaned or text
