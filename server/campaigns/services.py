"""Campaigns and classification of household reviews. Never commits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from server import standards
from server.accounts.models import Actor
from server.accounts.services import audit
from server.campaigns import queries
from server.campaigns.models import Campaign, CampaignCommune, Classification
from server.collect.models import Form, Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.timeutil import local, utcnow
from server.units import queries as unit_queries

REVIEW_FORM = "phieu_b"


def create_campaign(project_id: int, year: int, starts_on: date, ends_on: date, commune_codes: list[str],
                    by: Actor | None, name: str | None = None) -> Campaign:
    if ends_on < starts_on:
        raise Problem("invalid_input", detail="ngày kết thúc trước ngày bắt đầu / ends before it starts")
    if queries.campaign_by_year(project_id, year) is not None:
        raise Problem("already_exists", what=f"campaign {year}")
    try:
        standards.load_ruleset(year)
    except standards.RuleSetNotFound as error:
        raise Problem("invalid_input", detail=str(error)) from error
    codes = commune_codes or [u.code for u in unit_queries.units_at("commune")]
    for code in codes:
        unit = unit_queries.unit(code)
        if unit is None or unit.level != "commune":
            raise Problem("invalid_input", detail=f"'{code}' không phải xã/phường / is not a commune")
    campaign = Campaign(project_id=project_id, year=year, starts_on=starts_on, ends_on=ends_on,
                        name=name or f"Rà soát hộ nghèo, hộ cận nghèo năm {year}",
                        created_by=by.id if by else None,
                        communes=[CampaignCommune(commune_code=c) for c in dict.fromkeys(codes)])
    db.session.add(campaign)
    db.session.flush()
    audit("campaign.create", by, "campaign", campaign.id, {"year": year, "communes": len(codes)})
    return campaign


def set_local_ruleset(campaign: Campaign, raw: dict[str, Any], source: str, by: Actor | None) -> None:
    _parsed(standards.ruleset_from_data, raw, source)
    campaign.local_ruleset = raw
    audit("campaign.local_ruleset.set", by, "campaign", campaign.id, {"source": source})


def set_score_table(campaign: Campaign, raw: dict[str, Any], source: str, by: Actor | None) -> None:
    _parsed(standards.score_table_from_data, raw, source)
    campaign.score_table = raw
    audit("campaign.score_table.set", by, "campaign", campaign.id, {"source": source})


def _parsed(reader: Any, raw: dict[str, Any], source: str) -> Any:
    try:
        return reader(raw, source)
    except standards.DataFileError as error:
        raise Problem("invalid_input", detail=str(error)) from error


@dataclass(frozen=True)
class Rules:
    """What a campaign classifies by, read once per use."""

    year: int
    local: standards.RuleSet | None
    score_table: standards.ScoreTable | None


_RULES_CACHE: dict[str, Rules] = {}


def rules_of(campaign: Campaign) -> Rules:
    """Parsed once per content: the ingest path classifies every Phiếu B with them."""
    key = json.dumps([campaign.year, campaign.local_ruleset, campaign.score_table], sort_keys=True)
    rules = _RULES_CACHE.get(key)
    if rules is None:
        local = standards.ruleset_from_data(campaign.local_ruleset, f"campaign {campaign.year} local rule set") \
            if campaign.local_ruleset else None
        table = standards.score_table_from_data(campaign.score_table, f"campaign {campaign.year} B1 table") \
            if campaign.score_table else None
        rules = Rules(campaign.year, local, table)
        if len(_RULES_CACHE) > 32:
            _RULES_CACHE.clear()
        _RULES_CACHE[key] = rules
    return rules


def classify_review(submission: Submission, submission_def: SubmissionDef, rules: Rules) -> Classification:
    """Classify one household review and store the verdict beside it (replacing an earlier one)."""
    commune = unit_queries.unit(submission.commune_code) if submission.commune_code else None
    urban = bool(commune and commune.urban)
    result = standards.classify(submission_def.answers or {"fields": {}, "repeats": {}}, year=rules.year,
                                urban=urban, local=rules.local, score_table=rules.score_table)
    data = result.to_dict()
    row = queries.classification_of(submission_def.id) or Classification(
        submission_def_id=submission_def.id, submission_id=submission.id, campaign_id=submission.campaign_id)
    row.status = result.status
    row.household_class = result.class_
    row.local_class = result.local_class
    row.ruleset = f"{result.national.ruleset.id}@{result.national.ruleset.version}"
    row.score_table = _table_ref(result)
    row.result = data
    row.computed_at = utcnow()
    db.session.add(row)
    return row


def _table_ref(result: standards.Classification) -> str | None:
    if result.b1 is None:
        return None
    table = result.b1.table
    return f"{table.id}@{table.version}" + (" (sample)" if table.sample else "")


def assign_and_classify(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The ingest stage: every submission joins a campaign; Phiếu B reviews are classified."""
    form = db.session.get(Form, submission.form_id)
    if submission.campaign_id is None:
        on = local(submission.created_at or utcnow()).date()
        campaign = queries.campaign_for(form.project_id, submission.commune_code, on)
        submission.campaign_id = campaign.id if campaign else None
    else:
        campaign = db.session.get(Campaign, submission.campaign_id)
    if campaign is None or form.xml_form_id != REVIEW_FORM:
        return
    db.session.flush()
    classify_review(submission, submission_def, rules_of(campaign))


@dataclass(frozen=True)
class Recomputed:
    reviews: int
    transitions: dict[tuple[str, str], int]        # national class before → after
    local_transitions: dict[tuple[str, str], int]  # local class, when the campaign has a local standard


def recompute(year: int, by: Actor | None) -> Recomputed:
    """Re-classify every current Phiếu B review of the year's campaigns; report what moved."""
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    local_before: dict[str, str | None] = {}
    local_after: dict[str, str | None] = {}
    for campaign in queries.campaigns_for_year(year):
        rules = rules_of(campaign)
        for submission, submission_def in queries.current_reviews(campaign.id, REVIEW_FORM):
            key = str(submission.id)
            previous = queries.classification_of(submission_def.id)
            before[key], local_before[key] = _labels(previous)
            after[key], local_after[key] = _labels(classify_review(submission, submission_def, rules))
    transitions = standards.transition_counts(before, after)
    local_transitions = standards.transition_counts(local_before, local_after) \
        if any(local_before.values()) or any(local_after.values()) else {}
    audit("standards.recompute", by, "campaign", year,
          {"reviews": len(after), "moved": {f"{a}->{b}": n for (a, b), n in transitions.items() if a != b},
           "local_moved": {f"{a}->{b}": n for (a, b), n in local_transitions.items() if a != b}})
    return Recomputed(len(after), transitions, local_transitions)


def _labels(row: Classification | None) -> tuple[str | None, str | None]:
    """(national, local) labels for counting transitions; unclassifiable counts as its own label."""
    if row is None:
        return None, None
    national = row.household_class if row.status == standards.CLASSIFIED else row.status
    local_verdict = (row.result or {}).get("local")
    local = None if not local_verdict else (local_verdict.get("class") or local_verdict.get("status"))
    return national, local
