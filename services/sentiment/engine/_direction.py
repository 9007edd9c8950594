"""Direction × financial quantity: how formal news says good or bad without emotive words.

"Operating profit rose to EUR 40 mn from EUR 31 mn", "net sales increased by 12 %", "the loss
narrowed", "costs were cut": a news wire reports a *financial quantity* moving in a *direction*, and
whether that is good depends on the quantity (more profit is good, more debt is bad). Tweet-trained
n-gram models miss this because tweets carry the sentiment in other words. The rules below were
written for this project from domain knowledge (no third-party word list):

* a **metric** word (``profit``, ``sales``, ``ebitda``, ``order`` … where more is better; ``loss``,
  ``costs``, ``debt``, ``impairment`` … where less is better);
* a **direction** — a verb or adverb of change (``rose``, ``fell``, ``narrowed``, ``up``, ``cut``), or
  numbers compared (``from A to B``, ``to B from A``, ``B compared with A``, ``B versus A``, and the
  press-release ``B (A)`` with the prior period in brackets);
* the direction's sign times the metric's sign is the event's polarity, flipped by a negation
  (``not``, ``n't``, ``no``, ``never``, ``failed to``) in the three words before the direction;
* **quality** verbs (``improved``, ``worsened``, ``strengthened``, ``weakened``) carry their own sign
  whatever the metric, and ``swung / turned / returned to a profit | loss`` names the outcome.

A direction pairs with the nearest metric before it in its clause (``profit rose``), else the nearest
after it (``cut costs``, ``increased its net sales``). Commas do not end a clause ("profit totalled
EUR 9 mn, down from EUR 16.8 mn"); ``;``, ``but``, ``while``, ``whereas``, ``although`` do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["DIRECTION_FEATURES", "direction_events", "direction_features"]

#: Quantities where more is better for the company's owners.
_MORE_IS_BETTER = frozenset(
    """profit profits earnings ebit ebitda ebita eps sales revenue revenues turnover income margin margins
    order orders intake backlog bookings dividend dividends cash cashflow result results guidance outlook
    forecast volume volumes deliveries shipments production output traffic passengers subscribers
    customers users demand growth share shares stock valuation value profitability performance
    rating ratings target productivity occupancy deposits premiums assets aum jobs employees staff
    workforce headcount personnel capacity efficiency solvency liquidity payout buyback market""".split()
)
#: Quantities where less is better.
_LESS_IS_BETTER = frozenset(
    """loss losses deficit cost costs expense expenses expenditure debt debts borrowing borrowings
    liabilities impairment impairments writedown writedowns write-down write-downs writeoff write-off
    charge charges provision provisions layoffs layoff redundancies unemployment churn defaults
    arrears delinquencies gearing leverage risk risks outflows outflow emissions downtime non-performing
    npl npls overdue penalties fines""".split()
)
_UP = frozenset(
    """rose rise rises risen rising increase increased increases increasing grew grow grows grown growing
    climb climbed climbs jump jumped jumps surge surged surges soar soared soars gain gained gains
    double doubled doubles tripled triple up higher expand expanded expands expanding advance advanced
    boost boosted boosts raise raised raises raising widen widened widens widening lifted lift lifts
    upped exceed exceeded rebounded rebound recovered recover accelerated""".split()
)
_DOWN = frozenset(
    """fell fall falls fallen falling decline declined declines declining decrease decreased decreases
    decreasing drop dropped drops dip dipped dips slip slipped slips slid slide slides down lower lowered
    lowers lowering shrank shrink shrinks shrunk contracted plunge plunged plunges tumble tumbled sank
    sink sinks halve halved halves eroded erode cut cuts cutting reduce reduced reduces reducing narrow
    narrowed narrows narrowing slump slumped slumps diminished eased ease slowed slashed slash trimmed
    trim""".split()
)
_BETTER = frozenset("improve improved improves improving strengthened strengthen strengthens".split())
_WORSE = frozenset(
    "worsen worsened worsens deteriorate deteriorated deteriorates weakened weaken weakens".split()
)
_SWING = frozenset("swung swing swings turned turn turns returned return returns".split())
_NEGATIONS = frozenset("not no never nor without cannot unable".split())
_CLAUSE_WORDS = frozenset("but while whereas although though however".split())
_COMPARE = frozenset("compared versus vs against".split())
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "million": 1e6, "bn": 1e9, "bln": 1e9}
_SCALE.update({"billion": 1e9})
_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[a-z][a-z'\-]*|[;.!?(]")
_YEAR = re.compile(r"(?:19|20)\d\d")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_BACK, _AHEAD = 12, 5  # words searched for a metric before / after a direction
#: Comparatives that usually qualify the noun after them ("higher prices", "lower costs"): when that
#: noun is not a metric, they say nothing about one.
_ADJECTIVAL = frozenset("higher lower rising falling increased reduced growing declining".split())
_FUNCTION_WORDS = frozenset(
    "than in at by for and on to of from compared year-on-year as the a an its their this that".split()
)

#: Names of the columns returned by :func:`direction_features`, in order.
DIRECTION_FEATURES: tuple[str, ...] = ("dq_pos", "dq_neg", "dq_net", "dq_metric", "dq_bad_level")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _metric_sign(tok: str) -> int:
    if tok in _MORE_IS_BETTER:
        return 1
    if tok in _LESS_IS_BETTER:
        return -1
    return 0


def _is_boundary(tok: str) -> bool:
    return tok in (";", ".", "!", "?") or tok in _CLAUSE_WORDS


def _negated(toks: list[str], i: int) -> bool:
    before = toks[max(0, i - 3) : i]
    return any(t in _NEGATIONS or t.endswith("n't") or t == "failed" for t in before)


def _metric_at(toks: list[str], j: int) -> int:
    if toks[j] in ("result", "results") and j > 0 and toks[j - 1] == "a":  # "as a result of"
        return 0
    return _metric_sign(toks[j])


def _nearest_metric(toks: list[str], i: int) -> int:
    """Sign of the metric a direction at ``i`` talks about (0 when none in its clause)."""
    if toks[i] in _ADJECTIVAL and i + 1 < len(toks):
        for j in range(i + 1, min(len(toks), i + 4)):
            if s := _metric_at(toks, j):
                return s
        nxt = toks[i + 1]
        if nxt.isalpha() and nxt not in _FUNCTION_WORDS:
            return 0  # "higher interest rates": a noun that is not a metric
    for j in range(i - 1, max(-1, i - 1 - _BACK), -1):
        if _is_boundary(toks[j]):
            break
        if s := _metric_at(toks, j):
            return s
    for j in range(i + 1, min(len(toks), i + 1 + _AHEAD)):
        if _is_boundary(toks[j]):
            break
        if s := _metric_at(toks, j):
            return s
    return 0


def _amount(toks: list[str], i: int) -> float | None:
    """Return the number at or just after ``i`` (past a currency word or a year), scaled by its unit."""
    for j in range(i, min(len(toks), i + 4)):
        if _is_boundary(toks[j]):
            return None
        if _NUMBER.fullmatch(toks[j]):
            unit = toks[j + 1] if j + 1 < len(toks) else ""
            if _YEAR.fullmatch(toks[j]) and unit not in _SCALE:
                continue  # "(2023: EUR 4 mn)", "from 2019 to 2021": a year is not the figure
            return float(toks[j].replace(",", "")) * _SCALE.get(unit, 1.0)
    return None


def _last_amount_before(toks: list[str], i: int) -> float | None:
    for j in range(i - 1, max(-1, i - 1 - _BACK), -1):
        if _is_boundary(toks[j]):
            return None
        if _NUMBER.fullmatch(toks[j]) and (amount := _amount(toks, j)) is not None:
            return amount
    return None


def _compared_sign(toks: list[str], i: int) -> int:
    """Sign of B − A for ``from A to B`` / ``to B from A`` / ``B compared with A`` at token ``i``."""
    tok = toks[i]
    if tok == "from":
        a = _amount(toks, i + 1)
        if a is None:
            return 0
        # "from A to B" ahead, or "to B from A" behind
        for j in range(i + 2, min(len(toks), i + 7)):
            if toks[j] == "to":
                b = _amount(toks, j + 1)
                return 0 if b is None else int(np.sign(b - a))
            if _is_boundary(toks[j]):
                break
        for j in range(i - 1, max(-1, i - 6), -1):
            if toks[j] == "to":
                b = _amount(toks, j + 1)
                return 0 if b is None else int(np.sign(b - a))
            if _is_boundary(toks[j]):
                break
        return 0
    if tok == "(":  # press-release style "EUR 38.9 mn (EUR 21.5 mn)": the prior period in brackets
        a, b = _amount(toks, i + 1), _last_amount_before(toks, i)
        return 0 if a is None or b is None else int(np.sign(b - a))
    if tok in _COMPARE:
        a = _amount(toks, i + 1) or _amount(toks, i + 2)  # "compared with (the) EUR 9 mn"
        b = _last_amount_before(toks, i)
        return 0 if a is None or b is None else int(np.sign(b - a))
    return 0


def direction_events(text: str) -> list[int]:
    """Polarity (+1 good, −1 bad for the company) of each direction × quantity event in ``text``.

    Examples
    --------
    >>> direction_events("Operating profit rose to EUR 40 mn from EUR 31 mn.")
    [1]
    >>> direction_events("EBIT totalled EUR 9.0 mn, compared to EUR 16.8 mn a year earlier.")
    [-1]
    >>> direction_events("The net loss widened; costs were cut.")
    [-1, 1]
    """
    return _events(_tokens(text))


def _events(toks: list[str]) -> list[int]:
    events: list[int] = []
    verb_seen = -10  # a comparison right after a direction verb restates it
    for i, tok in enumerate(toks):
        if tok == "up" and i + 2 < len(toks) and toks[i + 1] == "to" and _NUMBER.fullmatch(toks[i + 2]):
            continue  # "up to 180 employees": a quantifier, not a direction
        if tok in ("lay", "laid", "laying", "lays") and i + 1 < len(toks) and toks[i + 1] == "off":
            events.append(1 if _negated(toks, i) else -1)
        elif tok in _UP or tok in _DOWN:
            metric = _nearest_metric(toks, i)
            if metric:
                sign = (1 if tok in _UP else -1) * metric
                events.append(-sign if _negated(toks, i) else sign)
                verb_seen = i
        elif tok in _BETTER or tok in _WORSE:
            sign = 1 if tok in _BETTER else -1
            events.append(-sign if _negated(toks, i) else sign)
            verb_seen = i
        elif tok in _SWING and i + 1 < len(toks) and toks[i + 1] in ("to", "into"):
            for t in toks[i + 2 : i + 6]:
                if t in ("profit", "black", "profitability"):
                    events.append(1)
                    break
                if t in ("loss", "red", "deficit"):
                    events.append(-1)
                    break
        elif (tok in ("from", "(") or tok in _COMPARE) and i - verb_seen > 6:
            diff = _compared_sign(toks, i)
            metric = _nearest_metric(toks, i)
            if diff and metric:
                events.append(diff * metric)
    return events


def _features_one(text: str) -> tuple[float, float, float, float, float]:
    toks = _tokens(text)
    events = _events(toks)
    pos, neg = float(events.count(1)), float(events.count(-1))
    has_metric = float(any(_metric_sign(t) for t in toks))
    bad_level = float(not events and any(_metric_sign(t) < 0 for t in toks))
    return min(pos, 3.0), min(neg, 3.0), float(np.sign(pos - neg)), has_metric, bad_level


def direction_features(texts: Sequence[str]) -> np.ndarray:
    """Dense ``(n, 5)`` features named by :data:`DIRECTION_FEATURES` of raw texts.

    ``dq_pos``/``dq_neg`` count good/bad events (capped at 3), ``dq_net`` is the sign of their
    difference, ``dq_metric`` flags a financial metric anywhere in the text and ``dq_bad_level`` a
    less-is-better quantity (a loss, an impairment) stated without any direction.
    """
    return np.array([_features_one(t) for t in texts], dtype=float).reshape(-1, len(DIRECTION_FEATURES))
