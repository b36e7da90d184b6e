"""OpenRosa response bodies (the `OpenRosaResponse` document Collect shows to the enumerator)."""

from __future__ import annotations

from xml.sax.saxutils import escape

RESPONSE_NS = "http://openrosa.org/http/response"


def success(message: str = "Đã nhận bản ghi. / Submission received.") -> bytes:
    return _response("submit_success", message)


def error(message: str) -> bytes:
    return _response("error", message)


def _response(nature: str, message: str) -> bytes:
    return (f'<OpenRosaResponse xmlns="{RESPONSE_NS}"><message nature="{nature}">{escape(message)}'
            f"</message></OpenRosaResponse>").encode()
