from __future__ import annotations

from datetime import date

from sqlalchemy import select

from server.campaigns.models import Campaign, CampaignCommune, Classification
from server.collect.models import Form, Submission, SubmissionDef
from server.extensions import db


def campaign_by_year(project_id: int, year: int) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.project_id == project_id, Campaign.year == year))


def campaigns_for_year(year: int) -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).where(Campaign.year == year).order_by(Campaign.id)))


def campaign_for(project_id: int, commune_code: str | None, on: date) -> Campaign | None:
    """The campaign a submission made on ``on`` belongs to: open that day and covering its commune,
    else the latest one of the project that started by then."""
    candidates = list(db.session.scalars(select(Campaign).where(Campaign.project_id == project_id)
                                         .order_by(Campaign.starts_on.desc())))
    covering = [c for c in candidates if commune_code and covers(c, commune_code)]
    for campaign in covering:
        if campaign.starts_on <= on <= campaign.ends_on:
            return campaign
    started = [c for c in (covering or candidates) if c.starts_on <= on]
    return started[0] if started else (candidates[-1] if candidates else None)


def covers(campaign: Campaign, commune_code: str) -> bool:
    return db.session.get(CampaignCommune, (campaign.id, commune_code)) is not None


def classification_of(submission_def_id: int) -> Classification | None:
    return db.session.scalar(select(Classification).where(Classification.submission_def_id == submission_def_id))


def current_reviews(campaign_id: int, xml_form_id: str) -> list[tuple[Submission, SubmissionDef]]:
    """The current version of every live submission of a form in a campaign."""
    rows = db.session.execute(
        select(Submission, SubmissionDef)
        .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current.is_(True))
        .join(Form, Form.id == Submission.form_id)
        .where(Submission.campaign_id == campaign_id, Submission.deleted_at.is_(None),
               Form.xml_form_id == xml_form_id)
        .order_by(Submission.id))
    return [(row[0], row[1]) for row in rows]
