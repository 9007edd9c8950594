"""Generated formal-news sentences for training: direction × quantity stated the way a news wire does.

The Twitter training set rarely says "operating profit rose to EUR 40 mn from EUR 31 mn" or "the
pre-tax loss narrowed", so a model trained on it alone calls such flat sentences neutral (or, for a
loss that narrowed, negative). This module writes labelled sentences from a small grammar of this
project's own: a company, a period, a metric (more or less is better), a direction and its numbers,
plus the news-wire events that carry sentiment without numbers (orders won, jobs cut) and neutral
statements of figures with no change. Labels follow from the grammar (direction sign × metric sign),
so they need no annotator; the hand-written evaluation fixture (``tests/sentiment/data``) is kept
separate and is not generated from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["formal_news_examples"]

_NAMES = (
    "Norva Kestrel Halden Brightwater Solvik Tamora Vessel Auren Lumic Graniti Polar Merida Fennic".split()
)
_SUFFIX = ["Oyj", "AB", "plc", "Inc.", "Group", "ASA", "AG", "Corp.", "Holdings", "Ltd"]
_PERIODS = [
    "in the third quarter of {y}",
    "in the first half of {y}",
    "in January-September {y}",
    "in {y}",
    "in the fourth quarter",
    "for the second quarter",
    "in the review period",
    "year-on-year",
    "in fiscal {y}",
    "",
]
_GOOD = [
    "net sales",
    "operating profit",
    "revenue",
    "EBITDA",
    "EBIT",
    "pre-tax profit",
    "profit before taxes",
    "net profit",
    "earnings per share",
    "order intake",
    "the order book",
    "order backlog",
    "operating margin",
    "gross margin",
    "comparable sales",
    "operating cash flow",
    "the dividend",
    "market share",
    "deliveries",
    "passenger numbers",
    "net interest income",
    "operating income",
    "turnover",
    "profit for the period",
]
_BAD = [
    "the net loss",
    "the operating loss",
    "the pre-tax loss",
    "costs",
    "operating expenses",
    "net debt",
    "impairment charges",
    "credit losses",
    "personnel costs",
    "production costs",
    "the loss per share",
    "finance costs",
    "warranty costs",
    "raw-material costs",
    "customer churn",
    "non-performing loans",
    "overdue receivables",
    "fixed costs",
]
_MARGINS = ("operating margin", "gross margin", "EBIT margin", "EBITDA margin")
_UP = ["rose", "increased", "grew", "climbed", "jumped", "was up", "went up", "improved"]
_DOWN = [
    "fell",
    "decreased",
    "declined",
    "dropped",
    "was down",
    "slipped",
    "went down",
    "was reduced",
    "was cut",
]
_CCY = ["EUR", "USD", "SEK", "GBP", "NOK"]
_UNIT = ["mn", "million", "m", "bn"]
_POS_EVENTS = [
    "{c} has won an order worth {ccy} {x} {u} from {c2}.",
    "{c} signed a {ccy} {x} {u} contract with {c2} to deliver equipment.",
    "{c} raised its full-year guidance.",
    "{c} said it expects its operating profit to improve {p}.",
    "{c} returned to profit {p}.",
    "{c}'s board proposes a higher dividend of {ccy} 0.{d} per share.",
    "Analysts upgraded {c} to buy.",
    "{c} swung to an operating profit of {ccy} {x} {u} {p}.",
    "{c} was awarded a {ccy} {x} {u} contract by {c2}.",
    "{c} received an order for {k} vessels from {c2}; the value of the deal is about {ccy} {x} {u}.",
    "{c} was selected by {c2} to deliver equipment, a contract worth about {ccy} {x} {u}.",
    "The board proposes an extra dividend of {ccy} 0.{d} per share.",
    "The acquisition is expected to be earnings-accretive from {y}.",
    "The merger will generate annual cost synergies of about {ccy} {x} {u}.",
    "{c}'s order backlog is at its highest level since {y}.",
    "{c} booked a capital gain of {ccy} {x} {u} on the sale of a non-core unit.",
]
_NEG_EVENTS = [
    "{c} will cut {n} jobs at its plant in {city}.",
    "{c} issued a profit warning and now expects a loss {p}.",
    "{c} lowered its outlook for {y}.",
    "{c} swung to a net loss of {ccy} {x} {u} {p}.",
    "{c} plans to close its factory in {city}, and about {n} employees will be laid off.",
    "{c} booked an impairment of {ccy} {x} {u} on its {city} unit.",
    "Analysts downgraded {c} to sell.",
    "{c} lost a {ccy} {x} {u} contract to {c2}.",
    "{c} wrote down the value of its {city} unit by {ccy} {x} {u}.",
    "The competition authority fined {c} {ccy} {x} {u}.",
    "{c} must pay contractual penalties of {ccy} {x} {u} for delivery delays.",
    "The auditors expressed doubts about {c}'s ability to continue as a going concern.",
    "Regulators blocked {c}'s planned acquisition of {c2}.",
    "{c} will lay off up to {n} employees.",
    "{c} lost its largest customer, {c2}.",
]
_NEUTRAL = [
    "{m} totalled {ccy} {x} {u} {p}.",
    "{m} amounted to {ccy} {x} {u} {p}.",
    "{c} will publish its interim report on {day} {month} {y}.",
    "{c} is a {ind} company headquartered in {city}.",
    "{c} employs about {n} people in {k} countries.",
    "The value of the agreement was not disclosed.",
    "{c} operates {k} production plants in {city} and {city2}.",
    "{c}'s shares are listed on the {city} stock exchange.",
    "The company's {m} is reported in {ccy}.",
    "{c} appointed a new chief financial officer as of {day} {month} {y}.",
    "The annual general meeting of {c} will be held in {city} on {day} {month}.",
    "{c} acquired the entire share capital of {c2}.",
    "{m} was {ccy} {x} {u}, of which {ind} accounted for {k}0 %.",
    "The contract covers the delivery of {k} units to {c2}.",
    "{m} was {ccy} {x} {u} {p}.",
    "Operating profit was {ccy} {x} {u}, or {k}.{k2} % of net sales.",
    "{c} had {n} thousand subscribers at the end of {month}.",
    "The company's personnel numbered {n} at the end of the review period.",
    "The new share capital amounts to {ccy} {x} {u}.",
    "{m} was {ccy} {x} {u} and net sales {ccy} {x2} {u} {p}.",
    "Demand is typically strongest in the fourth quarter.",
]
_CITIES = ["Helsinki", "Espoo", "Stockholm", "Oslo", "Tampere", "London", "Gdansk", "Turku", "Lyon", "Ohio"]
_INDUSTRIES = ["forest products", "engineering", "software", "retail", "logistics", "steel", "packaging"]
_MONTHS = ["January", "March", "April", "May", "July", "August", "October", "November"]


def _amount(rng: np.random.Generator) -> float:
    return float(np.round(rng.uniform(0.5, 900.0), int(rng.integers(0, 2))))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _movement(rng: np.random.Generator, metric: str, up: bool) -> str:
    """Write the metric moving up or down, with numbers in one of several shapes."""
    verb = str(rng.choice(_UP if up else _DOWN))
    if metric in _MARGINS and rng.random() < 0.4:
        verb = "widened" if up else "narrowed"
    if metric in _BAD:
        if "loss" in metric and rng.random() < 0.4:
            verb = "widened" if up else "narrowed"
        elif verb == "improved":  # "improved" is a quality: for a cost it would mean it fell
            verb = "increased"
    a = _amount(rng)
    b = float(np.round(a * (1 + rng.uniform(0.05, 0.8)) if up else a * (1 - rng.uniform(0.05, 0.7)), 1))
    ccy, u = str(rng.choice(_CCY)), str(rng.choice(_UNIT))
    pct = _fmt(float(np.round(rng.uniform(1, 60), 1)))
    shape = int(rng.integers(0, 8))
    if shape == 0:
        tail = f"to {ccy} {_fmt(b)} {u} from {ccy} {_fmt(a)} {u}"
    elif shape == 1:
        tail = f"by {pct} %"
    elif shape == 2:
        tail = f"{pct} percent to {ccy} {_fmt(b)} {u}"
    elif shape == 3:
        tail = f"from {ccy} {_fmt(a)} {u} to {ccy} {_fmt(b)} {u}"
    elif shape == 4:
        tail = ""
    elif shape == 5:  # no verb: the numbers decide
        word = str(rng.choice(["totalled", "amounted to", "was", "stood at"]))
        cmp_ = str(rng.choice(["compared to", "compared with", "versus", "against"]))
        return f"{metric} {word} {ccy} {_fmt(b)} {u}, {cmp_} {ccy} {_fmt(a)} {u} a year earlier"
    elif shape == 6:
        side = "up" if up else "down"
        return f"{metric} was {ccy} {_fmt(b)} {u}, {side} from {ccy} {_fmt(a)} {u}"
    else:
        return f"{metric} was {pct} % {'higher' if up else 'lower'} than a year earlier"
    return f"{metric} {verb} {tail}".strip()


def formal_news_examples(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """``n`` generated sentences with ``text`` and ``label`` (``negative``/``neutral``/``positive``).

    About 41 % metric movements (40 % of them of quantities where less is better), 12 % each of good
    and bad events without numbers and 35 % neutral statements; the label of a movement is its
    direction times the metric's sign.
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str]] = []

    def fill(template: str) -> str:
        c, c2 = (f"{rng.choice(_NAMES)} {rng.choice(_SUFFIX)}" for _ in range(2))
        y = int(rng.integers(2015, 2027))
        return template.format(
            c=c,
            c2=c2,
            y=y,
            p=str(rng.choice(_PERIODS)).format(y=y),
            ccy=rng.choice(_CCY),
            u=rng.choice(_UNIT),
            x=_fmt(_amount(rng)),
            x2=_fmt(_amount(rng)),
            k2=int(rng.integers(0, 9)),
            d=int(rng.integers(1, 99)),
            n=int(rng.integers(20, 3000)),
            k=int(rng.integers(2, 9)),
            city=rng.choice(_CITIES),
            city2=rng.choice(_CITIES),
            ind=rng.choice(_INDUSTRIES),
            day=int(rng.integers(1, 29)),
            month=rng.choice(_MONTHS),
            m=rng.choice(_GOOD),
        )

    for _ in range(n):
        r = rng.random()
        if r < 0.41:
            bad = rng.random() < 0.4
            metric = str(rng.choice(_BAD if bad else _GOOD))
            up = bool(rng.random() < 0.55)
            sentence = _movement(rng, metric, up)
            period = str(rng.choice(_PERIODS)).format(y=int(rng.integers(2015, 2027)))
            company = f"{rng.choice(_NAMES)} {rng.choice(_SUFFIX)}"
            lead = str(rng.choice([f"{company}'s ", f"{company} said its ", "The company's ", "", "Group "]))
            if lead and lead != "Group " and sentence.startswith("the "):
                sentence = sentence[4:]
            text = f"{lead}{sentence} {period}".strip() + "."
            text = text[0].upper() + text[1:]
            rows.append((text, "positive" if up != bad else "negative"))
        elif r < 0.53:
            rows.append((fill(str(rng.choice(_POS_EVENTS))), "positive"))
        elif r < 0.65:
            rows.append((fill(str(rng.choice(_NEG_EVENTS))), "negative"))
        else:
            text = fill(str(rng.choice(_NEUTRAL)))
            rows.append((text[0].upper() + text[1:], "neutral"))
    return pd.DataFrame(rows, columns=["text", "label"]).drop_duplicates("text", ignore_index=True)
