"""Which role may do what (pure). Unit scope is checked separately, on the data itself."""

from __future__ import annotations

ALL = "*"

_GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset({ALL}),
    "province": frozenset({"project.read", "form.read", "submission.read", "submission.review",
                           "submission.export", "comment.create", "audit.read", "unit.read"}),
    "supervisor": frozenset({"project.read", "form.read", "submission.read", "submission.export",
                             "comment.create", "app_user.manage", "unit.read"}),
    "commune": frozenset({"project.read", "form.read", "submission.read", "submission.review",
                          "comment.create", "unit.read"}),
    "verifier": frozenset({"project.read", "form.read", "submission.read", "submission.review",
                           "comment.create", "unit.read"}),
    "enumerator": frozenset({"project.read", "form.read", "submission.read", "submission.create",
                             "submission.update", "unit.read"}),
    # Devices: fetch forms and send submissions, nothing else.
    "field_key": frozenset({"form.read", "submission.create"}),
}

# Roles whose scope is the whole province.
PROVINCE_WIDE = frozenset({"admin", "province"})


def can(role: str, verb: str) -> bool:
    granted = _GRANTS.get(role, frozenset())
    return ALL in granted or verb in granted
