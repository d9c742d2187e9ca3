#!/usr/bin/env python
"""Upload rush: 200 teams each upload one 5–20 MB PDF at the same moment (the last minute
before the deadline), through the production shape — nginx (buffering each body, stamping the
received time) in front of gunicorn with ``deploy/gunicorn.conf.py`` (``--no-proxy``: gunicorn
alone).

Each PDF is real (pages drawing one large image each, random bytes as a photo's compressed
data are) and made on disk before the rush; each client sends its file from disk (with
``sendfile``: the 200 clients of the day are not on this machine, so the bench's own share of
its processor is kept small) to ``POST /api/v1/applications/{id}/attachments/`` with its lead
contact's token. Meanwhile
other pages are fetched several times a second. Afterwards every stored file is read back
and its SHA-256 compared with the client's and with the one the portal recorded.

Reported: wall time from the first byte sent to the last upload stored, upload p50/p95,
failures, the other pages' p50/p95 before and during the rush, the web workers' peak memory
(``VmHWM``) and the machine's disk write speed measured just before (``dd … conv=fdatasync``).

    .venv/bin/python bench/uploads.py [--clients 200] [--min-mb 5] [--max-mb 20] [--spread 0]
                                      [--workers 2] [--threads 16] [--no-proxy] [--no-handover]
                                      [--port 8396]

``BENCH_DB_PREFIX`` names the database (``<prefix>_1``, created and dropped like bench/run.py's).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, fresh_database, manage  # noqa: E402 -- sibling script
from serving import Prober, Stack, machine_busy_seconds, ms, percentile, tree_cpu_by_kind  # noqa: E402 -- sibling script

BOUNDARY = "----portal-bench-upload-boundary"


def make_pdf(path: Path, size: int, *, pages: int = 4) -> str:
    """Write a plain PDF of about ``size`` bytes to ``path``: ``pages`` pages, each drawing one
    image of random bytes. Returns its SHA-256."""
    per_image = max(1024, (size - 4096) // pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 3 * i} 0 R "
            f"/Resources << /XObject << /Im{i} {5 + 3 * i} 0 R >> >> >>".encode()
        )
        draw = f"q 595 0 0 842 0 0 cm /Im{i} Do Q".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
        image = os.urandom(per_image)
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width 2000 /Height 2000 /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % len(image) + image + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(out)
    return hashlib.sha256(out).hexdigest()


async def upload(port: int, item: dict, path: Path) -> tuple[int, float, dict, float]:
    """Stream ``path`` as a multipart upload; (status, seconds, answer, finished wall time)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n제안서\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="proposal.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /api/v1/applications/{item['application_id']}/attachments/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {item['token']}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode()
            + head
        )
        await writer.drain()
        with path.open("rb") as handle:
            # The file goes from the page cache to the socket inside the kernel: the clients of
            # the day are 200 machines, not this one, so this one spends as little as it can.
            await asyncio.get_running_loop().sendfile(writer.transport, handle)
        writer.write(tail)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 180)
        writer.close()
    except (OSError, TimeoutError):
        return 0, time.perf_counter() - started, {}, time.time()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    try:
        answer = json.loads(data.split(b"\r\n\r\n", 1)[1])
    except (ValueError, IndexError):
        answer = {}
    return status, time.perf_counter() - started, answer, time.time()


async def rush(port: int, items: list[dict], files: list[Path], spread: float, probe_token: str) -> dict:
    prober = Prober(
        port,
        {"/accounts/login/": {}, "/api/v1/applications/": {"Authorization": f"Token {probe_token}"}},
        every=0.2, per_path=2,
    )  # fmt: skip
    probes = prober.start()
    quiet_from = time.time() + 1.0
    await asyncio.sleep(4.0)  # the pages alone first
    start = time.time()
    results = []

    async def one(k: int):
        await asyncio.sleep(spread * k / len(items))
        results.append((k, *await upload(port, items[k], files[k])))

    await asyncio.gather(*(one(k) for k in range(len(items))))
    end = max(finished for *_rest, finished in results)
    await asyncio.sleep(1.0)
    prober.stop.set()
    await asyncio.gather(*probes)
    return {
        "results": results, "start": start, "end": end,
        "probe_before": prober.report(quiet_from, start), "probe": prober.report(start, end),
    }  # fmt: skip


def disk_write_mb_s(folder: Path) -> float:
    target = folder / "dd.test"
    done = subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=512", "conv=fdatasync"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    target.unlink(missing_ok=True)
    line = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    try:
        value, unit = line.rsplit(",", 1)[1].split()
        return round(float(value) * {"GB/s": 1000, "MB/s": 1, "kB/s": 0.001}.get(unit, 1), 1)
    except (IndexError, ValueError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--min-mb", type=float, default=5)
    parser.add_argument("--max-mb", type=float, default=20)
    parser.add_argument("--spread", type=float, default=0.0, help="seconds over which the uploads start")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--no-proxy", action="store_true")
    parser.add_argument(
        "--no-handover", action="store_true", help="nginx sends upload bodies over the socket, not as its stored file"
    )
    parser.add_argument("--port", type=int, default=8396, help="nginx; gunicorn listens on the next port")
    parser.add_argument("--pdf-dir", help="keep the generated PDFs here and reuse them in the next run")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "uploads.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-upload-bench-") as tmp:
        tmp = Path(tmp)
        media = tmp / "media"
        env = {
            **os.environ,
            "DATABASE_URL": fresh_database(1),
            "DJANGO_SETTINGS_MODULE": "portal.settings.bench",
            "DEBUG": "0",
            "MEDIA_ROOT": str(media),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "TMPDIR": str(tmp),  # upload temporary files on the media's disk: stored by a rename
        }
        manage("migrate", "--noinput", "-v0", env=env)
        seed_file = tmp / "seed.json"
        manage(
            "seed_surge", "--applications", str(args.clients), "--closes-in", "3600", "--out", str(seed_file), env=env
        )
        items = json.loads(seed_file.read_text())["items"]
        rng = random.Random(18)
        sizes = [int(rng.uniform(args.min_mb, args.max_mb) * 1024 * 1024) for _ in items]
        files, digests = [], []
        folder = Path(args.pdf_dir) if args.pdf_dir else tmp / "pdf"
        folder.mkdir(parents=True, exist_ok=True)
        for k, size in enumerate(sizes):
            path = folder / f"{k}-{size}.pdf"
            if path.exists():
                digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                digests.append(make_pdf(path, size))
            files.append(path)
        disk = disk_write_mb_s(tmp)
        stack = Stack(
            env, args.port, args.workers, args.threads, proxy=not args.no_proxy, workdir=tmp / "nginx",
            handover=not args.no_handover,
        )  # fmt: skip
        try:
            stack.start()
            cpu_before, proxy_before, machine_before = (
                stack.cpu_seconds(),
                stack.proxy_cpu_seconds(),
                machine_busy_seconds(),
            )
            checks_before = tree_cpu_by_kind(stack.procs[0].pid).get("pdf checks", 0.0)
            client_before = resource.getrusage(resource.RUSAGE_SELF)
            ran = asyncio.run(rush(stack.url_port, items, files, args.spread, items[0]["token"]))
            client_after = resource.getrusage(resource.RUSAGE_SELF)
            peaks = stack.worker_peak_mb()
            web_cpu = stack.cpu_seconds() - cpu_before
            checks_cpu = tree_cpu_by_kind(stack.procs[0].pid).get("pdf checks", 0.0) - checks_before
            proxy_cpu = stack.proxy_cpu_seconds() - proxy_before
            machine_cpu = machine_busy_seconds() - machine_before
            client_cpu = sum(getattr(client_after, f) - getattr(client_before, f) for f in ("ru_utime", "ru_stime"))
        finally:
            stack.stop()
        proxy_log = tmp / "nginx" / "error.log"
        proxy_errors = [
            line for line in (proxy_log.read_text(errors="replace").splitlines() if proxy_log.exists() else [])
            if "[error]" in line or "[crit]" in line or "[alert]" in line
        ][-5:]  # fmt: skip
        results = ran["results"]
        stored_ok = mismatched = 0
        for k, status, _elapsed, answer, _finished in results:
            if status != 201:
                continue
            if answer.get("sha256") == digests[k]:
                stored_ok += 1
            else:
                mismatched += 1
        # Every stored file read back: its bytes are the client's.
        on_disk = {}
        for path in media.rglob("*.pdf"):
            hasher = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    hasher.update(chunk)
            on_disk[hasher.hexdigest()] = path.stat().st_size
        stored_intact = sum(1 for k, status, *_ in results if status == 201 and digests[k] in on_disk)
    latencies = [elapsed for _k, status, elapsed, _a, _f in results if status == 201]
    total_mb = sum(sizes) / 1024 / 1024
    wall = ran["end"] - ran["start"]
    report = {
        "clients": args.clients, "sizes_mb": [args.min_mb, args.max_mb], "total_mb": round(total_mb),
        "proxy": not args.no_proxy, "handover": not args.no_proxy and not args.no_handover, "workers": args.workers, "threads": args.threads, "spread_s": args.spread,
        "stored": sum(1 for _k, s, *_ in results if s == 201), "failed": sum(1 for _k, s, *_ in results if s != 201),
        "failed_statuses": sorted({s for _k, s, *_ in results if s != 201}),
        "failed_codes": sorted({str(a.get("code")) for _k, s, _e, a, _f in results if s != 201}),
        "digest_matches": stored_ok, "digest_mismatches": mismatched, "stored_files_intact": stored_intact,
        "wall_s": round(wall, 1), "throughput_mb_s": round(total_mb / wall, 1) if wall else None,
        "upload_p50_ms": ms(percentile(latencies, 0.5)), "upload_p95_ms": ms(percentile(latencies, 0.95)),
        "upload_max_ms": ms(max(latencies, default=0)),
        "pages_before_rush": ran["probe_before"], "pages_during_rush": ran["probe"],
        "web_worker_peak_mb": peaks, "disk_write_fdatasync_mb_s": disk,
        "web_cpu_s": round(web_cpu, 1), "web_cpu_ms_per_mb": round(web_cpu * 1000 / total_mb, 1),
        # Where the machine's CPU went (the rush and the second after it): web processes,
        # nginx, this benchmark's own client, and everything else (PostgreSQL, the kernel's
        # writeback, other programs).
        "cpu_s": {
            "web": round(web_cpu, 1), "of which pdf checks": round(checks_cpu, 1),
            "proxy": round(proxy_cpu, 1), "client": round(client_cpu, 1),
            "machine": round(machine_cpu, 1),
            "other": round(machine_cpu - web_cpu - proxy_cpu - client_cpu, 1),
        },
        "proxy_errors_last": proxy_errors,
        "machine": f"{os.cpu_count()} cores, 1-min load average after the run {os.getloadavg()[0]:.1f}",
    }  # fmt: skip
    print(json.dumps(report, indent=2, ensure_ascii=False))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
