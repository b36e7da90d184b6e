"""What any Python server could reach on this machine with bench/ingest.py's load: the floor under our figure.

The server here is the least that taking a submission safely needs, and nothing of ours: werkzeug reads
the multipart body, the photo is hashed (SHA-256 and MD5), written to a temporary file, fsynced, renamed
and its directory fsynced, and one row goes into PostgreSQL in its own transaction. No authentication,
no form, no XML parsing, no audit. It runs under the same gunicorn layout and takes the same clients
(``ingest.run_clients``) as bench/ingest.py, so the two figures compare directly.

    .venv/bin/python bench/ingest_floor.py [--seconds 10] [--workers 2] [--threads 4] [--clients 1,8]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OK = (b'<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
      b'<message nature="submit_success">ok</message></OpenRosaResponse>')
_local = threading.local()


def _connection() -> Any:
    import psycopg

    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = psycopg.connect(os.environ["FLOOR_DSN"])
    return connection


def _store(photo: bytes, root: str) -> str:
    sha256 = hashlib.sha256(photo).hexdigest()
    hashlib.md5(photo, usedforsecurity=False).hexdigest()
    directory = os.path.join(root, sha256[:2])
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory)
    with os.fdopen(fd, "wb") as handle:
        handle.write(photo)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, os.path.join(directory, sha256))
    directory_fd = os.open(directory, os.O_RDONLY)
    os.fsync(directory_fd)
    os.close(directory_fd)
    return sha256


def app(environ: dict, start_response: Any) -> Any:
    """The floor server (gunicorn loads ``ingest_floor:app``)."""
    from werkzeug.wrappers import Request, Response

    request = Request(environ)
    xml = request.files["xml_submission_file"].read()
    sha256 = _store(request.files["house.jpg"].read(), os.environ["FLOOR_BLOBS"])
    connection = _connection()
    with connection.transaction():
        connection.execute("INSERT INTO floor_submissions (xml, sha256) VALUES (%s, %s)", (xml, sha256))
    return Response(OK, status=201, content_type="text/xml")(environ, start_response)


def main() -> None:
    import psycopg
    from common import fresh_postgres, gunicorn
    from ingest import run_clients

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", default="1,8")
    args = parser.parse_args()
    print(f"bench/ingest_floor.py: {args.seconds:.0f} s per run, gunicorn {args.workers} workers × {args.threads} "
          f"threads, multipart + 200 KB photo hashed, written, fsynced + one PostgreSQL insert")
    for clients in [int(c) for c in args.clients.split(",")]:
        with fresh_postgres("bench_floor") as url, tempfile.TemporaryDirectory() as blobs:
            dsn = url.replace("postgresql+psycopg", "postgresql")
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute("CREATE TABLE floor_submissions (id bigserial PRIMARY KEY, xml bytea, "
                                   "sha256 text, created_at timestamptz DEFAULT now())")
            config = {"FLOOR_BLOBS": blobs, "FLOOR_DSN": dsn}
            with gunicorn(config, workers=args.workers, threads=args.threads, app="ingest_floor:app", cwd=HERE) as base:
                acknowledged, _, errors = run_clients(base, "/submission", clients, args.seconds)
            with psycopg.connect(dsn) as connection:
                rows = connection.execute("SELECT count(*) FROM floor_submissions").fetchone()[0]
        print(f"clients={clients}: {len(acknowledged) / args.seconds:7.1f} submissions/s  "
              f"acknowledged={len(acknowledged)} errors={errors} rows={rows}")


if __name__ == "__main__":
    main()
