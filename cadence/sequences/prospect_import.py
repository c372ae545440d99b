"""Import prospects from a CSV file: validate every row first, then write all or nothing.

Rows are matched by email (case-insensitive), so importing the same file twice updates
instead of duplicating.
"""

import csv
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert
from sqlmodel import Session, col, select

from cadence.authoring.catalog import Catalog
from cadence.core.domain import Stage
from cadence.core.errors import InputError
from cadence.core.geography import country_codes, country_for_zone, single_clock_zone, valid_zone
from cadence.runtime.context import AppContext
from cadence.store.audit_log import record_audit
from cadence.store.database import transaction
from cadence.store.models import PROSPECTS, Prospect

KNOWN_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "persona",
    "timezone",
    "country",
    "stage",
)
#: Larger files are almost certainly not a prospect list (or an attack on memory).
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FIELD_CHARS = 2_000


@dataclass(frozen=True)
class ProspectRow:
    line: int
    email: str
    first_name: str
    last_name: str
    company: str
    title: str
    persona: str | None
    timezone: str
    country: str | None
    stage: str
    custom: dict[str, str]


@dataclass(frozen=True)
class RejectedRow:
    line: int
    email: str
    reason: str


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, object]]:
        """Every row of the file with what happened to it, in file order."""
        out: list[dict[str, object]] = [
            {"line": self.lines.get(email, 0), "email": email, "status": status, "reason": None}
            for status, emails in (
                ("imported", self.imported),
                ("updated", self.updated),
                ("unchanged", self.unchanged),
            )
            for email in emails
        ]
        out += [
            {"line": r.line, "email": r.email, "status": "rejected", "reason": r.reason}
            for r in self.rejected
        ]
        return sorted(out, key=lambda row: int(str(row["line"])))


def read_csv_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit; split it")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 (byte {exc.start}); save it as CSV UTF-8 and try again"
        ) from exc


def parse_prospect_csv(
    text: str, catalog: Catalog, *, source: str = "CSV"
) -> tuple[list[ProspectRow], list[RejectedRow]]:
    """Validate every row; line numbers are the file's physical lines (quoted newlines count)."""
    if "\x00" in text:
        raise InputError(f"{source}: contains NUL bytes; this is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(
            f"{source}: the file is empty; the first line must name the columns"
        ) from None
    except csv.Error as exc:
        raise InputError(f"{source}:1: {exc}") from exc
    columns = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in header]
    if "email" not in columns:
        raise InputError(f"{source}:1: no 'email' column; the header must name one")
    duplicates = {c for c in columns if columns.count(c) > 1 and c}
    if duplicates:
        raise InputError(f"{source}:1: duplicate columns: {', '.join(sorted(duplicates))}")
    rows: list[ProspectRow] = []
    rejected: list[RejectedRow] = []
    seen: dict[str, int] = {}
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{source}:{start}: {exc}; fix the quoting and try again") from exc
        line = start
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            rejected.append(
                RejectedRow(line, "", f"{len(values)} fields but {len(columns)} columns")
            )
            continue
        record = dict(zip(columns, (v.strip() for v in values), strict=False))
        try:
            row = _validate(record, line, catalog)
        except ValueError as exc:
            rejected.append(RejectedRow(line, record.get("email", ""), str(exc)))
            continue
        if row.email in seen:
            rejected.append(RejectedRow(line, row.email, f"duplicate of line {seen[row.email]}"))
            continue
        seen[row.email] = line
        rows.append(row)
    return rows, rejected


def _is_control(ch: str) -> bool:
    """C0 and C1 controls, DEL, and the bidirectional overrides that disguise text."""
    code = ord(ch)
    return code < 32 or 0x7F <= code <= 0x9F or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069


def _guess_zone(country: str | None, catalog: Catalog) -> str:
    """A missing zone: the country's only zone, else the team's default; never a silent UTC
    that would send "07:30" emails in the middle of the night."""
    if country is not None:
        zone = single_clock_zone(country)
        if zone is not None:
            return zone
        raise ValueError(f"timezone: required for a prospect in {country} (several time zones)")
    if catalog.team.default_timezone:
        return catalog.team.default_timezone
    raise ValueError("timezone: required (or set default_timezone in config/team.toml)")


def _validate(record: Mapping[str, str], line: int, catalog: Catalog) -> ProspectRow:
    for name, value in record.items():
        if len(value) > MAX_FIELD_CHARS:
            raise ValueError(f"{name}: longer than {MAX_FIELD_CHARS} characters")
        # Names and companies end up in email headers and terminals: one line, no controls.
        allowed = "\t\n" if name not in KNOWN_COLUMNS else ""
        if any(_is_control(ch) and ch not in allowed for ch in value):
            raise ValueError(f"{name}: contains control or line-break characters")
    raw_email = record.get("email", "")
    if not raw_email:
        raise ValueError("email: empty")
    try:
        email = validate_email(raw_email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"email: {raw_email!r} is not a valid address: {exc}") from exc
    persona = record.get("persona") or None
    if persona is not None and persona not in catalog.personas:
        known = ", ".join(sorted(catalog.personas))
        raise ValueError(f"persona: unknown persona {persona!r}; known: {known}")
    country = (record.get("country") or "").upper() or None
    if country is not None and country not in country_codes():
        raise ValueError(f"country: {country!r} is not an ISO 3166 code such as DE or US")
    zone = record.get("timezone") or _guess_zone(country, catalog)
    if not valid_zone(zone):
        raise ValueError(f"timezone: {zone!r} is not an IANA time zone such as Europe/Berlin")
    stage = (record.get("stage") or Stage.NAMES.value).lower().replace("-", "_")
    if stage not in {s.value for s in Stage}:
        raise ValueError(f"stage: {stage!r} is not one of {', '.join(s.value for s in Stage)}")
    custom = {k: v for k, v in record.items() if k not in KNOWN_COLUMNS and k}
    return ProspectRow(
        line=line,
        email=email,
        first_name=record.get("first_name", ""),
        last_name=record.get("last_name", ""),
        company=record.get("company", ""),
        title=record.get("title", ""),
        persona=persona,
        timezone=zone,
        country=country or country_for_zone(zone),
        stage=stage,
        custom=custom,
    )


def save_prospects(
    session: Session,
    rows: Iterable[ProspectRow],
    *,
    owner: str,
    now: datetime,
    actor: str,
    report: ImportReport,
) -> None:
    """Insert new prospects and update known ones in the caller's transaction."""
    rows = list(rows)
    existing: dict[str, Prospect] = {}
    emails = [r.email for r in rows]
    for chunk_start in range(0, len(emails), 500):
        chunk = emails[chunk_start : chunk_start + 500]
        for p in session.exec(select(Prospect).where(col(Prospect.email).in_(chunk))):
            existing[p.email] = p
    new_rows: list[dict[str, Any]] = []
    for row in rows:
        report.lines[row.email] = row.line
        fields = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "company": row.company,
            "title": row.title,
            "persona": row.persona,
            "timezone": row.timezone,
            "country": row.country,
            "stage": row.stage,
            "custom": row.custom,
        }
        prospect = existing.get(row.email)
        if prospect is None:
            new_rows.append(
                {
                    **fields,
                    "email": row.email,
                    "owner": owner,
                    "unsubscribe_token": secrets.token_urlsafe(24),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            report.imported.append(row.email)
            continue
        changed = {k: v for k, v in fields.items() if getattr(prospect, k) != v}
        if not changed:
            report.unchanged.append(row.email)
            continue
        before = {k: getattr(prospect, k) for k in changed}
        if "stage" in changed:
            record_audit(
                session,
                at=now,
                actor=actor,
                action="stage",
                prospect_id=prospect.id,
                before=str(before["stage"]),
                after=row.stage,
                reason=f"CSV line {row.line}",
            )
        for key, value in changed.items():
            setattr(prospect, key, value)
        prospect.updated_at = now
        session.add(prospect)
        report.updated.append(row.email)
    session.flush()
    if new_rows:  # one executemany: building a model a row costs more than the insert
        session.connection().execute(insert(PROSPECTS), new_rows)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="prospects:import",
        reason=f"{len(report.imported)} new, {len(report.updated)} updated",
    )


def import_prospects(
    ctx: AppContext,
    path: Path,
    *,
    owner: str | None,
    actor: str,
    skip_invalid: bool = False,
) -> ImportReport:
    """All rows or none: with any rejected row nothing is written unless ``skip_invalid``."""
    sender = ctx.catalog.team.sender(owner)
    rows, rejected = parse_prospect_csv(read_csv_text(path), ctx.catalog, source=str(path))
    report = ImportReport(rejected=rejected)
    if rejected and not skip_invalid:
        return report
    with transaction(ctx.engine) as session:
        save_prospects(
            session, rows, owner=sender.name, now=ctx.clock.now(), actor=actor, report=report
        )
    return report
