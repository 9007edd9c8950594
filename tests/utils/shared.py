"""The read-only shared folder, and generated stand-ins for its data so that tests stand on their own.

``SHARED`` is ``$RAYSVC_SHARED_DIR`` if set, else ``../shared`` beside the repository: the one place the tests
look for it. Its data is used where present; where it is absent, tests read files in the same formats that
this module writes instead:

* ``data/seed/sentiment_data.csv`` and ``simulated_daily_data.csv`` — copies of the project's own generated
  files (:mod:`services.core.datagen` writes them in the seed's formats, quirks included: blank
  ``twitterSentiment`` values, ``m/d/YYYY`` dates, ``Adj Close`` and a trailing empty column);
* ``data/twitter_financial_news/sent_train.csv`` and ``sent_valid.csv`` — :func:`write_twitter_split`'s
  templated headlines, labelled like the real set (``text,label``; 0 bearish, 1 bullish, 2 neutral).

A test that asserts what only the real files have (their exact counts, a shipped model's metrics on the real
split) calls :func:`require_shared`, which skips it with a reason saying so.

Nothing here imports the project (nor, until data is written, numpy or pandas), so the chart tests, which may
run without them, can use ``SHARED`` too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RAYSVC_SHARED_DIR") or REPO.parent / "shared").resolve()
"""The shared folder (it may be absent)."""

SEED_FILES = ("sentiment_data.csv", "simulated_daily_data.csv")
TWITTER_FILES = ("sent_train.csv", "sent_valid.csv")


def shared_path(*parts: str) -> Path:
    """``SHARED / parts`` (which may not exist)."""
    return SHARED.joinpath(*parts)


def has_shared(*parts: str, files: tuple[str, ...] = ()) -> bool:
    """Whether ``SHARED / parts`` exists (and holds each of ``files``)."""
    path = shared_path(*parts)
    return path.exists() and all((path / f).is_file() for f in files)


def require_shared(*parts: str, why: str) -> Path:
    """``SHARED / parts``, or skip the calling test, saying ``why`` it needs the real file (what it asserts of
    it that a generated stand-in would not have)."""
    __tracebackhide__ = True  # the skip is reported at the test's line
    path = shared_path(*parts)
    if not path.exists():
        pytest.skip(
            f"needs the real shared {'/'.join(parts)}, not a generated stand-in: {why}; not found at {path} "
            "(set RAYSVC_SHARED_DIR)"
        )
    return path


def write_seed_files(out: Path, generated: Path) -> Path:
    """``out`` holding the seed's two files, copied from the project's generated datasets in ``generated``
    (written by ``datagen.generate``, in the seed's formats)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in SEED_FILES:
        shutil.copyfile(generated / name, out / name)
    return out


# --- a small labelled set in the Twitter Financial News layout -----------------------------------------
_TICKERS = "AAPL AMZN BA C DIS F GOOG INTC JPM KO MSFT NFLX NVDA PFE T TSLA XOM".split()
_FIRMS = ["Goldman Sachs", "Morgan Stanley", "Barclays", "Citi", "UBS", "Jefferies", "BTIG", "Nomura"]
_WORDS = {
    0: {
        "verb": ["falls", "slides", "plunges", "sinks", "drops", "tumbles"],
        "why": ["a profit warning", "weak guidance", "missed estimates", "a probe", "job cuts", "a recall"],
        "rating": ["Sell", "Underweight", "Underperform", "Neutral"],
        "action": ["cuts", "downgrades", "lowers its target on"],
    },
    1: {
        "verb": ["rises", "jumps", "soars", "rallies", "gains", "climbs"],
        "why": ["record deliveries", "upbeat guidance", "beating estimates", "a buyback", "strong demand"],
        "rating": ["Buy", "Overweight", "Outperform", "Strong Buy"],
        "action": ["upgrades", "raises its target on", "lifts"],
    },
}
_NEUTRAL = [
    "{t} to report quarterly results on {day}",
    "{t} schedules its annual meeting for {day}",
    "{f} initiates coverage of {t}",
    "{t} declares a regular quarterly dividend",
    "{t} CEO to speak at an industry conference on {day}",
    "{t}: options volume, open interest and the week ahead",
]
_POLAR = [
    "${t} {verb} after {why}",
    "{f} {action} ${t} to {rating}",
    "${t} - shares {verb} on {why}, analysts say",
    "{f} {action} {t}; stock {verb}",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "May 4", "July 27", "October 19"]


def _headline(rng: np.random.Generator, label: int) -> str:
    def pick(seq: list[str]) -> str:
        return seq[int(rng.integers(len(seq)))]

    t, f, day = pick(_TICKERS), pick(_FIRMS), pick(_DAYS)
    if label == 2:
        text = pick(_NEUTRAL).format(t=t, f=f, day=day)
    else:
        w = _WORDS[label]
        text = pick(_POLAR).format(
            t=t,
            f=f,
            verb=pick(w["verb"]),
            why=pick(w["why"]),
            rating=pick(w["rating"]),
            action=pick(w["action"]),
        )
    if rng.random() < 0.6:  # most real rows end in a t.co link
        code = "".join(rng.choice(list("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 10))
        text = f"{text} https://t.co/{code}"
    return text


def twitter_frame(n_per_label: int, seed: int) -> pd.DataFrame:
    """``n_per_label`` templated headlines of each label (0 bearish, 1 bullish, 2 neutral), shuffled."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = [(_headline(rng, label), label) for label in (0, 1, 2) for _ in range(n_per_label)]
    frame = pd.DataFrame(rows, columns=["text", "label"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def write_twitter_split(out: Path, n_train: int = 300, n_valid: int = 150) -> Path:
    """``out`` holding ``sent_train.csv`` / ``sent_valid.csv`` (``text,label``), ``n_train`` / ``n_valid`` rows
    a label: enough for the tests' stratified samples (up to 150 a label)."""
    out.mkdir(parents=True, exist_ok=True)
    twitter_frame(n_train, seed=15).to_csv(out / "sent_train.csv", index=False)
    twitter_frame(n_valid, seed=16).to_csv(out / "sent_valid.csv", index=False)
    return out
