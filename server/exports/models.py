from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class ClassificationFacts(db.Model):
    """What the exports read out of one classification's result JSON, kept in plain columns.

    A result is ~5–6 kB of JSON: parsing a province's worth on every export would cost minutes, so each
    classification is read once (``queries.refresh_facts`` at the start of an export, for those computed
    since) and exports only read these columns. ``indicators`` holds one letter per indicator in
    ``registry.INDICATOR_IDS`` order (``registry.encode_indicators``); NULL when the verdict listed none.
    """

    __tablename__ = "export_classification_facts"
    classification_id: Mapped[int] = mapped_column(ForeignKey("classifications.id", ondelete="CASCADE"),
                                                   primary_key=True)
    computed_at: Mapped[datetime] = mapped_column()  # the classification's, to notice a re-classification
    indicators: Mapped[str | None] = mapped_column(String(12))
    income_vnd: Mapped[int | None] = mapped_column(BigInteger)
    b1_total: Mapped[int | None] = mapped_column()
