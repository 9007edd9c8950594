"""Sentiment engine: scorers, training, shipped models and social analytics (no Ray, no HTTP)."""

from ._embeddings import EMBEDDING_DIM, Embedder, embedder_info, get_embedder
from ._finance_lexicon import (
    FINANCE_NEGATIVE,
    FINANCE_POSITIVE,
    LEXICON_FEATURES,
    finance_counts,
    lexicon_features,
)
from ._labels import CLASSES, Label, map_labels
from ._lexicon import (
    LEXICON_THRESHOLD,
    labels_from_polarity,
    polarity_split,
    textblob_polarity,
    vader_compound,
)
from ._linear import LinearHead, softmax
from ._models import FastModel, NgramBase, StackedModel, load_model, save_model, stack_features
from ._ngrams import NgramSpec
from ._scorers import BUILTIN_MODEL_DIR, ModelName, ScoreBatch, Scorer, builtin_model_folder, load_scorer
from ._social import (
    MONTH_PATTERN,
    SOCIAL_COLUMNS,
    SymbolAggregates,
    UnknownSymbolError,
    monthly_rankings,
    parse_month,
    prepare_social,
    symbol_aggregates,
    symbols_summary,
)
from ._synthetic import formal_news_examples
from ._text import normalize_for_embedding, normalize_text, normalize_texts
from ._training import (
    Cell,
    CellResult,
    TrainResult,
    TrainSpec,
    check_training_labels,
    cross_validate_cell,
    fit_head,
    fit_nb_head,
    grid_cells,
    model_card,
    run_cells_sequential,
    train_model,
)

__all__ = [
    "BUILTIN_MODEL_DIR",
    "CLASSES",
    "EMBEDDING_DIM",
    "FINANCE_NEGATIVE",
    "FINANCE_POSITIVE",
    "LEXICON_FEATURES",
    "LEXICON_THRESHOLD",
    "MONTH_PATTERN",
    "SOCIAL_COLUMNS",
    "Cell",
    "CellResult",
    "Embedder",
    "FastModel",
    "Label",
    "LinearHead",
    "ModelName",
    "NgramBase",
    "NgramSpec",
    "ScoreBatch",
    "Scorer",
    "StackedModel",
    "SymbolAggregates",
    "TrainResult",
    "TrainSpec",
    "UnknownSymbolError",
    "builtin_model_folder",
    "check_training_labels",
    "cross_validate_cell",
    "embedder_info",
    "finance_counts",
    "fit_head",
    "fit_nb_head",
    "formal_news_examples",
    "get_embedder",
    "grid_cells",
    "labels_from_polarity",
    "lexicon_features",
    "load_model",
    "load_scorer",
    "map_labels",
    "model_card",
    "monthly_rankings",
    "normalize_for_embedding",
    "normalize_text",
    "normalize_texts",
    "parse_month",
    "polarity_split",
    "prepare_social",
    "run_cells_sequential",
    "save_model",
    "softmax",
    "stack_features",
    "symbol_aggregates",
    "symbols_summary",
    "textblob_polarity",
    "train_model",
    "vader_compound",
]
