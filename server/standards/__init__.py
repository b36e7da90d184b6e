"""The poverty-standard engine: rule sets, the 12 deprivation indicators, the B1 income score and
the classification of a household (poor, near-poor, average living, not classified).

Pure Python: no Flask, no database. Formats and API: FORMAT.md in this folder.
"""

from server.standards.checks import DataFileError
from server.standards.classify import (
    AVERAGE_LIVING,
    CLASSES,
    CLASSIFIED,
    NEAR_POOR,
    NOT_CLASSIFIED,
    POOR,
    UNCLASSIFIABLE,
    Classification,
    RuleSetRef,
    Verdict,
    class_rank,
    classify,
)
from server.standards.explain import NO_CLASS, explain, transition_counts
from server.standards.income import Income
from server.standards.indicators import IndicatorResult
from server.standards.rulesets import (
    RuleSet,
    RuleSetNotFound,
    load_ruleset,
    load_ruleset_file,
    ruleset_from_data,
)
from server.standards.scoring import Score, ScoreTable, TableRef, load_score_table, score_table_from_data

__all__ = [
    "AVERAGE_LIVING", "CLASSES", "CLASSIFIED", "NEAR_POOR", "NOT_CLASSIFIED", "POOR", "UNCLASSIFIABLE",
    "NO_CLASS", "Classification", "DataFileError", "Income", "IndicatorResult", "RuleSet",
    "RuleSetNotFound", "RuleSetRef", "Score", "ScoreTable", "TableRef", "Verdict", "class_rank",
    "classify", "explain", "load_ruleset", "load_ruleset_file", "load_score_table", "ruleset_from_data",
    "score_table_from_data", "transition_counts",
]
