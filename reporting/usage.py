"""The GPU-usage file a team uploads, and utilisation against the allocation (pure functions).

The file is the accounting export a cluster scheduler writes, one line per job, in the shape
of Slurm's ``sacct --parsable2 --delimiter=, --format=JobID,Cluster,Start,End,AllocGPUs``::

    JobID,Cluster,Start,End,AllocGPUs
    81231,광주 AI 데이터센터 A,2026-01-03T09:00:00,2026-01-04T09:00:00,64

Times are ISO 8601; without an offset they are Korea Standard Time. A job's GPU-hours are
``AllocGPUs × (End − Start)`` in hours, counted only inside the reporting period (a job that
starts before it or ends after it counts its part within the period). The whole file is
refused when any line is wrong, with every wrong line's number: nothing is stored.

Utilisation of a team on a cluster in a period = GPU-hours used ÷ (GPUs granted × hours in
the period) × 100, exact, shown to one decimal place.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")
COLUMNS = ("JobID", "Cluster", "Start", "End", "AllocGPUs")
MAX_ROWS = 200_000


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header line
    message: str


@dataclass(frozen=True)
class UsageFile:
    gpu_hours: dict[str, Fraction]  # cluster name -> GPU-hours inside the period
    jobs: int


class UsageFileError(ValueError):
    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(f"line {e.line}: {e.message}" for e in errors))
        self.errors = errors


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as instants: from the first day's midnight to the day after the last, in KST."""
    return datetime.combine(start, time(0), KST), datetime.combine(end + timedelta(days=1), time(0), KST)


def period_hours(start: date, end: date) -> int:
    return ((end - start).days + 1) * 24


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=KST)


def parse_usage(data: bytes, *, clusters: set[str], period: tuple[date, date], messages: dict) -> UsageFile:
    """Read the file; raise :class:`UsageFileError` listing every wrong line.

    ``clusters`` are the names the team holds GPUs on; ``messages`` maps an error key to its
    (translated) text, so this module stays free of Django.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageFileError([RowError(1, messages["encoding"])]) from exc
    if "\x00" in text:
        raise UsageFileError([RowError(1, messages["encoding"])])
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # an unclosed quote or a field beyond the csv module's limit
        raise UsageFileError([RowError(1, messages["csv"])]) from exc
    reader = iter(rows)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise UsageFileError([RowError(1, messages["header"] % {"columns": ",".join(COLUMNS)})])
    start, end = period_bounds(*period)
    errors: list[RowError] = []
    hours: dict[str, Fraction] = {}
    seen: set[str] = set()
    jobs = 0
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if line > MAX_ROWS:
            errors.append(RowError(line, messages["too_many"] % {"max": MAX_ROWS}))
            break
        if len(row) != len(COLUMNS):
            errors.append(RowError(line, messages["columns"] % {"count": len(row), "expected": len(COLUMNS)}))
            continue
        job, cluster, started, ended, gpus = (cell.strip() for cell in row)
        if not job:
            errors.append(RowError(line, messages["job"]))
        elif job in seen:
            errors.append(RowError(line, messages["duplicate"] % {"job": job}))
        seen.add(job)
        if cluster not in clusters:
            errors.append(RowError(line, messages["cluster"] % {"cluster": cluster}))
        try:
            begin, finish = _instant(started), _instant(ended)
        except ValueError:
            errors.append(RowError(line, messages["time"]))
            continue
        if finish < begin:
            errors.append(RowError(line, messages["order"]))
            continue
        if not (gpus.isascii() and gpus.isdigit()) or int(gpus) < 1:
            errors.append(RowError(line, messages["gpus"] % {"value": gpus}))
            continue
        inside = min(finish, end) - max(begin, start)
        if inside.total_seconds() <= 0:
            errors.append(RowError(line, messages["outside"]))
            continue
        jobs += 1
        seconds = Fraction(inside // timedelta(microseconds=1), 1_000_000)
        hours[cluster] = hours.get(cluster, Fraction(0)) + int(gpus) * seconds / 3600
    if errors:
        raise UsageFileError(errors)
    if not jobs:
        raise UsageFileError([RowError(2, messages["empty"])])
    return UsageFile(gpu_hours=hours, jobs=jobs)


def utilisation(gpu_hours: Decimal | Fraction, granted_gpus: int, hours: int) -> Fraction | None:
    """Percent of the granted GPU-hours used (exact); ``None`` when nothing was granted."""
    if granted_gpus <= 0 or hours <= 0:
        return None
    return Fraction(gpu_hours) / (granted_gpus * hours) * 100


def one_place(value: Fraction | None) -> Decimal | None:
    """Half up to one decimal place, for display."""
    if value is None:
        return None
    scaled = value * 10
    whole = scaled.numerator // scaled.denominator
    if (scaled - whole) * 2 >= 1:
        whole += 1
    return (Decimal(whole) / 10).quantize(Decimal("0.1"))
