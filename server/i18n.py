"""The user's language: Vietnamese unless they (or their browser) chose English."""

from __future__ import annotations

from flask import current_app, has_request_context, request

LANGUAGES = ("vi", "en")


def request_language() -> str:
    if not has_request_context():
        return "vi"
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(LANGUAGES) if request.accept_languages else None
    return best or current_app.config.get("DEFAULT_LANGUAGE", "vi")
