"""Demo data of award notices (idempotent): the demo signing key and the notices of the
allocation in force.

The demo CA and award-notice signing certificate (DEMO in both subjects) are written under
``var/signing/`` (ignored by git), never into the database; what ``seed_demo`` prints of them
(paths and subject, nothing secret) goes to ``context["notice_signing"]``. The notices of the
approved allocation the allocation demo left in force are then issued (when the portal has a
notice-signing key: notices are never issued unsigned).
"""

from __future__ import annotations

from awards.services import notice_issue_for_run
from awards.signing import demo_pki_ensure
from gpu_allocation.models import AllocationRun
from portal.errors import DomainError


def seed(context: dict) -> None:
    context["notice_signing"] = demo_pki_ensure()
    run = AllocationRun.objects.filter(pk=context.get("allocation_run_id")).first()
    if run is None:
        return
    try:
        notice_issue_for_run(run=run, by=context["users"]["officer"])
    except DomainError:
        pass  # no signing key here (or the run is not in force): the allocation stands without notices
