import pytest

from services.sentiment.engine import finance_counts, normalize_for_embedding, normalize_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$AAPL up +3.5% to $150 https://t.co/x", "xticker up xpctup to xmoney xurl"),
        (
            "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn",
            "operating profit rose to xmoney from xmoney",
        ),
        ("Shares -2.3% (NYSE: GE) @trader #stocks", "shares xpctdown ( xticker ) xuser stocks"),
        ("Q3 EPS 1,234.5 vs 12%", "q3 eps xnum vs xpct"),
        ("$BRK.B and $tsla", "xticker and xticker"),
    ],
    ids=["cashtag-pct-money-url", "eur-mn", "exchange-ticker-user-hashtag", "numbers", "cashtag-forms"],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_normalize_for_embedding_keeps_content_drops_urls():
    assert normalize_for_embedding("$AAPL beats  https://t.co/abc  estimates") == "$AAPL beats estimates"
    assert normalize_for_embedding("https://t.co/abc") == "https://t.co/abc"  # nothing left: keep original


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Shares surged after the upgrade", (2, 0)),
        ("Company cuts guidance, misses estimates", (0, 2)),
        ("Stock did not fall, shares surged", (2, 0)),
        ("Results were not strong", (0, 1)),
        ("The topic of the window", (0, 0)),
    ],
    ids=["positive", "negative", "negation-scope-ends-at-comma", "negated-positive", "no-prefix-false-hits"],
)
def test_finance_counts(text, expected):
    assert finance_counts(normalize_text(text)) == expected
