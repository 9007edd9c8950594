"""The sentiment service (port 8005): ``raysvc serve sentiment`` serves ``services.sentiment.app:app``."""

from __future__ import annotations

from typing import Any

from services.core.app import Platform, create_app
from services.core.metrics import MODEL_INFO
from services.core.names import Dataset
from services.sentiment import service as svc
from services.sentiment.engine import ModelName
from services.sentiment.routes import legacy_router, router

DATASETS = [Dataset.SENTIMENT]


def _on_ready(platform: Platform) -> None:
    """Load the shipped models and the social data once; put the default scorers into the object store."""
    for model in ModelName:
        scorer = svc.get_scorer(platform.settings, model)
        MODEL_INFO.labels(platform.service, model.value, scorer.version).set(1)
    for model in (ModelName.ml, ModelName.ml_fast):
        svc.scorer_ref(platform.catalog, platform.settings, model)
    svc.social_frame(platform.catalog)

    def status() -> dict[str, Any]:
        return {
            "models": [m.value for m in ModelName],
            "default_model": ModelName.ml.value,
            "loaded_scorers": svc.loaded_scorers(),
            "max_texts": platform.settings.max_texts,
            "max_text_chars": platform.settings.max_text_chars,
        }

    platform.state["status"] = status


app = create_app(
    "sentiment",
    routers=[router],
    legacy_router=legacy_router,
    datasets=DATASETS,
    description=(
        "Financial-text sentiment (a stacked TF-IDF n-gram + finance-lexicon + direction x quantity model, a fast "
        "hashed n-gram "
        "model, TextBlob and VADER baselines) scored in chunks on Ray; training of new model versions as "
        "Ray jobs; per-symbol social-media analytics and monthly engagement rankings. See docs/sentiment.md."
    ),
    on_ready=_on_ready,
)
