"""``seed_demo`` as a person runs it (issue 19): a real process whose output ends with every
demo account's login, alone; the e-mails the demo sends go to files, never to the terminal,
and no warning comes before the logins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_url_for_worker

ROOT = Path(__file__).resolve().parents[2]


def seed_demo(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.local", DATABASE_URL=database_url_for_worker(),
        MEDIA_ROOT=str(tmp_path / "media"), EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "manage.py", "seed_demo", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_seed_demo_prints_every_login_last_and_alone_and_keeps_mail_off_the_terminal(tmp_path):
    first = seed_demo(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    out = first.stdout
    assert "Subject:" not in out and "Content-Type" not in out and "From:" not in out  # no e-mail printed
    assert "Subject:" not in first.stderr and not re.search(r"warning", first.stderr, re.I)
    lines = out.rstrip("\n").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Logins ("))
    count = int(re.match(r"Logins \((\d+) demo accounts", lines[header]).group(1))
    logins = lines[header + 1 :]
    assert len(logins) == count  # the logins close the output, nothing after them
    assert lines[header - 1] == ""  # and stand apart from what came before
    assert "var/demo-mail/" in out

    listed = {line.split()[0] for line in logins}
    accounts = json.loads(seed_demo(tmp_path, "--json").stdout)["accounts"]
    assert listed == {a["username"] for a in accounts}
    from portal.models import User

    demo = {u for u in User.objects.values_list("username", flat=True)}
    assert {"applicant", "reviewer", "officer", "admin", *(f"reviewer{n}" for n in range(2, 8))} <= listed
    assert listed == demo  # every demo account, no other
