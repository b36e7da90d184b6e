"""Audit of every read of personal data in bulk or in full (exports, OData feeds, submission XML,
attachments): who read, which form or registry, within which units, with which filters. Never commits.

GET views have no write transaction of their own; they run this in ``transaction.run`` before the
data is sent, so that a read whose audit row could not be written is not served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.accounts import queries
from server.accounts.permissions import PROVINCE_WIDE
from server.accounts.services import Caller, audit


def caller_units(caller: Caller) -> list[str] | str:
    """The unit codes the caller's reads are limited to, or "*" for the whole province."""
    if caller.role in PROVINCE_WIDE:
        return "*"
    return sorted(queries.scope_codes(caller.actor.id))


def personal_data_read(caller: Caller, action: str, form_id: int, xml_form_id: str,
                       filters: Mapping[str, Any] | None = None, **what: Any) -> None:
    """One audit row: actor, action, the form as actee; details name the form, the caller's role and
    units, the query's filters and what else was read (format, instance, file name)."""
    audit(action, caller.actor, "form", form_id,
          {"xmlFormId": xml_form_id, "role": caller.role, "units": caller_units(caller),
           "filters": dict(filters or {}), **what})
