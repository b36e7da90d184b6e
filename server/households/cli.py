"""`flask households …` and `flask geo …`."""

from __future__ import annotations

import csv
import getpass
import json
from pathlib import Path

import click
from flask.cli import AppGroup

from server.errors import Problem
from server.exports.writers import neutralise_text
from server.extensions import db
from server.geo.locate import locate_csv
from server.households import services
from server.households.linking import link_csv

households_group = AppGroup("households", help="Household registry / Sổ hộ")
geo_group = AppGroup("geo", help="Boundaries and GPS / Ranh giới và GPS")


def _fail(problem: Problem) -> None:
    db.session.rollback()
    raise click.ClickException(f"{problem.message('vi')} / {problem.message('en')}")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


@households_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rejected", "rejected_path", type=click.Path(dir_okay=False, path_type=Path),
              help="write rejected rows (line, reason) to this CSV")
def households_import(path: Path, rejected_path: Path | None) -> None:
    """Import registry households (record_id,head_name,…,member_names + the province's columns)."""
    try:
        with click.progressbar(length=_count_lines(path), label="Nhập / importing") as bar:
            report = services.import_file(path, progress=bar.update)
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    click.echo(f"Thêm / inserted {report.inserted}, cập nhật / updated {report.updated}, "
               f"không đổi / unchanged {report.unchanged}, từ chối / rejected {len(report.rejected)}")
    for line, reason in report.rejected[:20]:
        click.echo(f"  dòng / line {line}: {reason}")
    if rejected_path is not None:
        with rejected_path.open("w", encoding="utf-8", newline="") as handle:  # reasons quote the cells
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["line", "reason"])
            writer.writerows([line, neutralise_text(reason)] for line, reason in report.rejected)


@households_group.command("export")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def households_export(out_path: Path) -> None:
    with out_path.open("w", encoding="utf-8", newline="") as handle:
        # Personal data of the whole province: the audit row names the operating-system account and file.
        for chunk in services.export_registry(details={"via": "cli", "osUser": getpass.getuser(),
                                                       "out": str(out_path.resolve())}):
            handle.write(chunk)
    db.session.commit()  # the audit row of the export
    click.echo(f"Đã xuất / exported {out_path}")


@households_group.command("link")
@click.argument("registry", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("incoming", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def households_link(registry: Path, incoming: Path, out_path: Path) -> None:
    """Link INCOMING households against REGISTRY: incoming_id,registry_id,score,decision."""
    with click.progressbar(length=_count_lines(registry), label="Đối chiếu / linking") as bar:
        def progress(stage: str, done: int) -> None:
            if stage == "registry":  # the long pass: the registry is streamed once
                bar.update(done - bar.pos)

        summary = link_csv(registry, incoming, out_path, progress=progress)
    click.echo(f"match {summary.matched}, review {summary.review}, new {summary.new}, "
               f"pairs {summary.pairs_written}")


@geo_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def geo_load(path: Path) -> None:
    """Load commune and village boundaries (GeoJSON: code, name, level, parent_code)."""
    try:
        count = services.load_boundaries(json.loads(path.read_text(encoding="utf-8")))
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, or nested past the parser's depth
        raise click.ClickException(f"{path}: không đọc được GeoJSON / not readable as GeoJSON: "
                                   f"{str(error)[:300]}") from error
    click.echo(f"Đã nạp / loaded {count} ranh giới / boundaries")


@geo_group.command("locate")
@click.argument("points", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--boundaries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def geo_locate(points: Path, boundaries: Path, out_path: Path) -> None:
    """Place POINTS (id,lat,lon[,acc]) → id,village_code,commune_code,flag."""
    summary = locate_csv(points, boundaries, out_path)
    click.echo(str(summary))
