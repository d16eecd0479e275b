"""The Export API: POST /export/lead/ and /export/opportunity/ create a job, GET /export/{id}/ polls it, and
its `download_url` serves the gzip-compressed file (JSON array or CSV) from /_sandbox/export/{id}/download.

Files are written once, on first download, to a temporary file (memory stays flat for big accounts).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
import threading
from typing import IO, Any

from closesync.sandbox.errors import ApiError
from closesync.sandbox.search import _Evaluator

Record = dict[str, Any]
CSV_FIELDS = {"leads": ["id", "display_name", "status_label", "url", "date_created", "date_updated"],
              "contacts": ["id", "lead_id", "name", "title", "date_created", "date_updated"],
              "lead_opps": ["id", "display_name", "status_label", "date_created", "date_updated"],
              "opps": ["id", "lead_id", "status_label", "value", "value_period", "date_created", "date_updated"]}


class ExportFiles:
    """Finished export files by job id: temporary files, removed when this object goes away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory(prefix="closesync-sandbox-exports-")
        self._paths: dict[str, str] = {}

    def open(self, data: Any, job: Record) -> IO[bytes]:
        """A fresh read handle on the job's file (written on first use); the caller closes it."""
        with self._lock:
            path = self._paths.get(job["id"])
            if path is None:
                path = os.path.join(self._dir.name, f"{job['id']}.gz")
                with open(path, "wb") as raw:
                    _write(data, job, raw)
                self._paths[job["id"]] = path
        return open(path, "rb")  # noqa: SIM115 - closed by the transport after sending


def _records(data: Any, job: Record) -> Any:
    etype = job["type"]
    if etype == "opps":
        params = job.get("params") or {}
        yield from (o for o in data.iter_records("opportunity")
                    if all(str(o.get(k)) == str(v) for k, v in params.items() if k != "organization_id"))
        return
    coll = data.collection("lead")
    query = job.get("s_query")
    predicate = None
    if isinstance(query, dict) and query.get("type") not in (None, "match_all"):
        predicate = _Evaluator(coll, "lead").compile({"type": "and", "queries": [query]}
                                                     if query.get("type") != "and" else query)
    for i in range(len(coll)):
        lead = coll.get(i)
        if lead is None or (predicate is not None and not predicate(i)):
            continue
        if etype == "contacts":
            yield from lead["contacts"]
        else:
            yield lead


def _write(data: Any, job: Record, raw: IO[bytes]) -> None:
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
        fields = job.get("fields") or []
        if job.get("format") == "csv":
            writer = csv.writer(text)
            columns = fields or CSV_FIELDS[job["type"]]
            writer.writerow(columns)
            for rec in _records(data, job):
                writer.writerow(["" if rec.get(c) is None else rec.get(c) for c in columns])
        else:
            text.write("[")
            for n, rec in enumerate(_records(data, job)):
                if fields:
                    rec = {k: v for k, v in rec.items() if k in fields}
                text.write(("," if n else "") + json.dumps(rec, separators=(",", ":")))
            text.write("]")
        text.flush()
        text.detach()


def create_export(req: Any, kind: str) -> Record:
    """POST /export/lead/ (`type` leads|contacts|lead_opps) or /export/opportunity/ (type opps)."""
    body = req.body if isinstance(req.body, dict) else {}
    data = req.data
    export_type = body.get("type", "leads") if kind == "lead" else "opps"
    if kind == "lead" and export_type not in ("leads", "contacts", "lead_opps"):
        raise ApiError.validation(field_errors={"type": "Must be leads, contacts or lead_opps."})
    if body.get("format", "json") not in ("json", "csv"):
        raise ApiError.validation(field_errors={"format": "Must be json or csv."})
    user = data.catalog.active_user_ids[0]
    job: Record = {
        "created_by": user, "date_format": body.get("date_format", "original"), "download_url": None,
        "fields": body.get("fields") or [], "format": body.get("format", "json"), "n_docs": None,
        "n_docs_processed": 0, "organization_id": data.catalog.org_id,
        "results_limit": body.get("results_limit"), "send_done_email": bool(body.get("send_done_email", True)),
        "status": "created", "type": export_type, "updated_by": user,
    }
    if kind == "lead":
        job.update(s_query=body.get("s_query") or {"type": "match_all"}, sort=body.get("sort") or [])
    else:
        job["params"] = body.get("params") or {}
    created = data.add("export", job)
    # The sandbox finishes at once: the create response says "created", the next poll says "done".
    count = data.count("lead") if kind == "lead" else data.count("opportunity")
    url = f"{req.extras.get('origin', '')}/_sandbox/export/{created['id']}/download"
    data.update("export", created["id"], status="done", n_docs=count, n_docs_processed=count, download_url=url)
    return created
