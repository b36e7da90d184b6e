"""Fill XForms in tests with the real ODK form engine, as a phone would.

The engine (`@getodk/xforms-engine`, the one behind ODK Web Forms) runs under Node in
`engine/fill.mjs`. One call is one Node process that loads the form once and fills it as
many times as asked, so batch with `fill_many` when a test needs many submissions: a
process costs over a second before the first filling, a filling tens of milliseconds.

Steps are plain dicts applied in order, as an enumerator would tap them:

- ``{"set": "/data/member[2]/m_name", "value": "Lan"}``: answer a question. Paths are the
  form's ``nodeset`` with 1-based ``[n]`` on repeat instances. Selects take choice names
  (space-separated for select_multiple), geopoints ``"lat lon alt acc"``, images and files
  their file name.
- ``{"add_repeat": "/data/member"}``: add one repeat instance at the end (pyxform forms
  start with one instance).

A step a phone would not allow (a question that is not relevant or is read-only, a choice
that ``choice_filter`` hides, a path that does not exist) stops that filling: `fill_form`
and `fill_many` raise `StepRefused`, `run_engine` reports it in `FilledForm.refused`.
Violated constraints and missing required answers do not raise: they come back as
`violations`, with ``xml`` None, because the engine refuses to produce such a submission.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINE_DIR = Path(__file__).resolve().parent / "engine"
FILL_SCRIPT = ENGINE_DIR / "fill.mjs"

# Timestamps (start, end, today) are taken in the phone's zone; ours are in Bắc Ninh.
PHONE_TIMEZONE = "Asia/Ho_Chi_Minh"

DEFAULT_PRELOAD: Mapping[str, str] = {"deviceID": "e2e-test-device", "username": "e2e"}

# A safety net against a hung Node process, not a performance expectation.
PROCESS_TIMEOUT_SECONDS = 300

Step = Mapping[str, str]


class EngineNotInstalled(RuntimeError):
    """Node or the engine's npm packages are missing; the test must fail, not skip."""


class EngineError(RuntimeError):
    """The engine could not load the form, or the harness itself failed."""


class StepRefused(EngineError):
    """A step that a phone would not let the enumerator take."""


@dataclass(frozen=True)
class Violation:
    ref: str
    kind: str
    message: str | None


@dataclass(frozen=True)
class FilledForm:
    xml: str | None
    instance_id: str | None
    violations: list[Violation]
    attachments: list[str]
    refused: str | None = None


@dataclass(frozen=True)
class EngineTimings:
    startup_ms: float
    load_ms: float
    fill_ms: float


@dataclass(frozen=True)
class EngineRun:
    fillings: list[FilledForm]
    timings: EngineTimings


def fill_form(
    form_xml: str,
    steps: Sequence[Step],
    attachments: Mapping[str, str] | None = None,
    preload: Mapping[str, str] | None = None,
) -> FilledForm:
    """Fill the form once with `steps`; see the module docstring for the step format."""
    return fill_many(form_xml, [steps], attachments=attachments, preload=preload)[0]


def fill_many(
    form_xml: str,
    list_of_steps: Sequence[Sequence[Step]],
    attachments: Mapping[str, str] | None = None,
    preload: Mapping[str, str] | None = None,
) -> list[FilledForm]:
    """Fill the form once per step list, in one Node process; results keep the order."""
    fillings = run_engine(form_xml, list_of_steps, attachments, preload).fillings
    for index, filled in enumerate(fillings):
        if filled.refused is not None:
            raise StepRefused(f"filling {index}: {filled.refused}")
    return fillings


def run_engine(
    form_xml: str,
    list_of_steps: Sequence[Sequence[Step]],
    attachments: Mapping[str, str] | None = None,
    preload: Mapping[str, str] | None = None,
) -> EngineRun:
    """Like `fill_many`, but a refused step is reported, not raised; also gives timings."""
    request = {
        "form_xml": form_xml,
        "attachments": dict(attachments or {}),
        "preload": dict(DEFAULT_PRELOAD if preload is None else preload),
        "fillings": [{"steps": [dict(step) for step in steps]} for steps in list_of_steps],
    }
    response = _call_node(request)
    if response.get("error"):
        raise EngineError(response["error"])
    return EngineRun(
        fillings=[_filled_form(raw) for raw in response["fillings"]],
        timings=EngineTimings(**response["timings"]),
    )


def _node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise EngineNotInstalled("Node.js (20.19+) is not on PATH; the ODK engine tests need it.")
    if not (ENGINE_DIR / "node_modules" / "@getodk" / "xforms-engine").is_dir():
        raise EngineNotInstalled(
            f"The ODK form engine is not installed in {ENGINE_DIR / 'node_modules'}: "
            "run `make test` (it runs `npm ci --prefix tests/e2e/engine`)."
        )
    return node


def _call_node(request: Mapping[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [_node_executable(), str(FILL_SCRIPT)],
        input=json.dumps(request, ensure_ascii=False),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ENGINE_DIR,
        env={**os.environ, "TZ": PHONE_TIMEZONE},
        timeout=PROCESS_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0 or not completed.stdout:
        raise EngineError(f"fill.mjs exited with {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout)


def _filled_form(raw: Mapping[str, Any]) -> FilledForm:
    return FilledForm(
        xml=raw["xml"],
        instance_id=raw["instance_id"],
        violations=[Violation(**violation) for violation in raw["violations"]],
        attachments=list(raw["attachments"]),
        refused=raw["error"],
    )
