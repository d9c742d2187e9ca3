"""Permission matrix: every actor × object type × action (SPEC §2, §10).

The expectations are one table, ``CASES``: for each endpoint or page, the set of actors who
may use it. The test cases are generated from the table × ``ACTORS``; the ids read
``<object>:<action>@<actor>``. Any allow not in the table fails, and so does a refusal of an
allowed actor. Refusals to signed-in users are 404 (never 403, so ids cannot be probed);
anonymous visitors are sent to the login page (pages) or get 401/403 (API). List cases check
*membership*: the object must appear in the lists of those allowed and in nobody else's.
Write refusals also check that nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.conftest import ACTORS, world_snapshot

SIGNED = frozenset(ACTORS) - {"anon"}
TEAM_A = frozenset({"a_owner", "a_member"})
SEALED_TEAM = frozenset({"a_owner"})  # the sealed consortium's member organisation has another contact
STAFF = frozenset({"officer", "admin"})
ADMIN = frozenset({"admin"})
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Case:
    obj: str  # object type
    action: str  # what is tried
    method: str  # get / post / patch / put
    url: str  # template filled from the world's ids: "{app_a}"
    allowed: frozenset
    kind: str = "detail"  # detail | list | write
    api: bool = False
    marker: Any = None  # list: id in the JSON results, or a text in the page
    data: Any = None
    collection: bool = False  # a collection endpoint: a role-level refusal may be 403

    @property
    def id(self) -> str:
        return f"{self.obj}:{self.action}"


def W(obj, action, method, url, allowed, **kw) -> Case:  # noqa: N802 -- a table row
    kind = "write" if method != "get" else kw.pop("kind", "detail")
    return Case(obj, action, method, url, frozenset(allowed), kind=kind, **kw)


API = {"api": True}
CASES: list[Case] = [
    # programme
    W("programme", "api detail", "get", "/api/v1/programmes/{programme}/", SIGNED, **API),
    W("programme", "api list", "get", "/api/v1/programmes/", SIGNED, kind="list", marker="programme", **API),
    W("programme", "api patch", "patch", "/api/v1/programmes/{programme}/", STAFF, data={"name": "X"}, **API),
    W("programme", "page list", "get", "/programmes/", STAFF),
    W("programme", "page edit", "get", "/programmes/{programme}/edit/", STAFF),
    W("programme", "page edit post", "post", "/programmes/{programme}/edit/", STAFF, data={"name": ""}),
    # organisation
    W("organisation", "api detail", "get", "/api/v1/organisations/{org_a}/", TEAM_A | STAFF, **API),
    W("organisation", "api list", "get", "/api/v1/organisations/", TEAM_A | STAFF, kind="list", marker="org_a", **API),
    # consortium
    W("consortium", "api detail", "get", "/api/v1/consortia/{consortium_a}/", TEAM_A | STAFF, **API),
    W("consortium", "api list", "get", "/api/v1/consortia/", TEAM_A | STAFF, kind="list", marker="consortium_a", **API),
    W(
        "consortium",
        "api invite",
        "post",
        "/api/v1/consortia/{consortium_a}/invite/",
        {"a_owner"},
        data={"email": "new@example.com"},
        **API,
    ),  # fmt: skip
    W("consortium", "api confirm", "post", "/api/v1/consortia/{consortium_a}/confirm/", TEAM_A, **API),
    W("consortium", "page detail", "get", "/consortia/{consortium_a}/", TEAM_A | STAFF),
    W("consortium", "page my list", "get", "/consortia/", TEAM_A, kind="list", marker="ALPHA 컨소시엄"),
    W(
        "consortium",
        "page invite",
        "post",
        "/consortia/{consortium_a}/invite/",
        {"a_owner"},
        data={"email": "new@example.com", "role": "member"},
    ),  # fmt: skip
    # application (deadline passed: contents open to officers)
    W("application", "api detail", "get", "/api/v1/applications/{app_a}/", TEAM_A | STAFF, **API),
    W("application", "api list", "get", "/api/v1/applications/", TEAM_A | STAFF, kind="list", marker="app_a", **API),
    W("application", "api patch", "patch", "/api/v1/applications/{app_a}/", TEAM_A, data={"title": "HACKED"}, **API),
    W("application", "api submit", "post", "/api/v1/applications/{app_a}/submit/", {"a_owner"}, **API),
    W("application", "api withdraw", "post", "/api/v1/applications/{app_a}/withdraw/", {"a_owner"}, **API),
    W("application", "api checklist", "get", "/api/v1/applications/{app_a}/checklist/", TEAM_A | STAFF, **API),
    W("application", "api counts", "get", "/api/v1/applications/counts/?programme={programme}", STAFF, **API),
    W("application", "page step", "get", "/consortia/applications/{app_a}/step/1/", TEAM_A | STAFF),
    W("application", "page review", "get", "/consortia/applications/{app_a}/review/", TEAM_A | STAFF),
    W(
        "application",
        "page step post",
        "post",
        "/consortia/applications/{app_a}/step/1/",
        TEAM_A,
        data={"title": "HACKED", "revision": "1"},
    ),  # fmt: skip
    W("application", "page submit", "post", "/consortia/applications/{app_a}/submit/", {"a_owner"}),
    W("application", "page withdraw", "post", "/consortia/applications/{app_a}/withdraw/", {"a_owner"}),
    W("application", "page officer detail", "get", "/consortia/officer/applications/{app_a}/", STAFF),
    W(
        "application",
        "page officer list",
        "get",
        "/consortia/officer/applications/?programme={programme}",
        STAFF,
        kind="list",
        marker="ALPHA 컨소시엄",
    ),  # fmt: skip
    W("application", "page my list", "get", "/consortia/applications/", TEAM_A, kind="list", marker="ALPHA"),
    # sealed application (its programme is still open): officers see the state, not the contents
    W("sealed application", "api detail", "get", "/api/v1/applications/{app_sealed}/", SEALED_TEAM | STAFF, **API),
    W("sealed application", "api versions", "get", "/api/v1/applications/{app_sealed}/versions/", SEALED_TEAM, **API),
    W("sealed application", "api checklist", "get", "/api/v1/applications/{app_sealed}/checklist/", SEALED_TEAM, **API),
    W(
        "sealed application",
        "api attachments",
        "get",
        "/api/v1/applications/{app_sealed}/attachments/",
        SEALED_TEAM,
        **API,
    ),  # fmt: skip
    W("sealed application", "page step", "get", "/consortia/applications/{app_sealed}/step/1/", SEALED_TEAM),
    W("sealed application", "page version", "get", "/consortia/applications/{app_sealed}/versions/1/", SEALED_TEAM),
    W(
        "sealed application",
        "page attachment",
        "get",
        "/consortia/applications/{app_sealed}/attachments/{attachment_sealed}/download/",
        SEALED_TEAM,
    ),  # fmt: skip
    # version
    W("version", "api list", "get", "/api/v1/applications/{app_a}/versions/", TEAM_A | STAFF, **API),
    W("version", "page list", "get", "/consortia/applications/{app_a}/versions/", TEAM_A | STAFF),
    W("version", "page detail", "get", "/consortia/applications/{app_a}/versions/1/", TEAM_A | STAFF),
    # attachment
    W(
        "attachment",
        "api list",
        "get",
        "/api/v1/applications/{app_a}/attachments/",
        TEAM_A | STAFF,
        kind="list",
        marker="attachment_a",
        **API,
    ),  # fmt: skip
    W(
        "attachment",
        "api upload",
        "post",
        "/api/v1/applications/{app_a}/attachments/",
        TEAM_A,
        data={"title": "x"},
        **API,
    ),  # fmt: skip
    W(
        "attachment",
        "page download",
        "get",
        "/consortia/applications/{app_a}/attachments/{attachment_a}/download/",
        TEAM_A | STAFF,
    ),  # fmt: skip
    W(
        "attachment",
        "page remove",
        "post",
        "/consortia/applications/{app_a}/attachments/{attachment_a}/remove/",
        TEAM_A,
    ),  # fmt: skip
    W(
        "attachment",
        "page reviewer download",
        "get",
        "/evaluations/reviews/{asg_ok}/attachments/{attachment_a}/",
        {"rev_ok"},
    ),  # fmt: skip
    # assignment (rev_ok's, on A)
    W("assignment", "api detail", "get", "/api/v1/assignments/{asg_ok}/", {"rev_ok"} | STAFF, **API),
    W(
        "assignment",
        "api phase list",
        "get",
        "/api/v1/phases/{phase}/assignments/",
        {"rev_ok"} | STAFF,
        kind="list",
        marker="asg_ok",
        **API,
    ),  # fmt: skip
    W(
        "assignment",
        "api declare",
        "post",
        "/api/v1/assignments/{asg_ok}/conflict/",
        {"rev_ok"},
        data={"has_conflict": False},
        **API,
    ),  # fmt: skip
    W("assignment", "page score", "get", "/evaluations/reviews/{asg_ok}/", {"rev_ok"}),
    W("assignment", "page declare", "get", "/evaluations/reviews/{asg_ok}/declare/", {"rev_ok"}),
    W("assignment", "page queue", "get", "/evaluations/reviews/", {"rev_ok"}, kind="list", marker="ALPHA"),
    W("assignment", "page phase assignments", "get", "/evaluations/phases/{phase}/assignments/", STAFF),
    # conflict declaration (rev_conflicted's assignment on A)
    W("conflict declaration", "api detail", "get", "/api/v1/assignments/{asg_conflicted}/", STAFF, **API),
    W(
        "conflict declaration",
        "api phase list",
        "get",
        "/api/v1/phases/{phase}/assignments/",
        STAFF,
        kind="list",
        marker="asg_conflicted",
        **API,
    ),  # fmt: skip
    W(
        "conflict declaration",
        "api declare again",
        "post",
        "/api/v1/assignments/{asg_conflicted}/conflict/",
        NOBODY,
        data={"has_conflict": False},
        **API,
    ),  # fmt: skip
    W("conflict declaration", "page declare", "get", "/evaluations/reviews/{asg_conflicted}/declare/", NOBODY),
    W("conflict declaration", "page score", "get", "/evaluations/reviews/{asg_conflicted}/", NOBODY),
    W(
        "conflict declaration",
        "page attachment",
        "get",
        "/evaluations/reviews/{asg_conflicted}/attachments/{attachment_a}/",
        NOBODY,
    ),  # fmt: skip
    # score (rev_ok's scores on A; rev_unassigned's on B)
    W(
        "score",
        "api put",
        "put",
        "/api/v1/assignments/{asg_ok}/scores/",
        {"rev_ok"},
        data={"scores": {"technology": 1}},
        **API,
    ),  # fmt: skip
    W("score", "api other reviewer's", "get", "/api/v1/assignments/{asg_other}/", {"rev_unassigned"} | STAFF, **API),
    W(
        "score",
        "api other in phase list",
        "get",
        "/api/v1/phases/{phase}/assignments/",
        {"rev_unassigned"} | STAFF,
        kind="list",
        marker="asg_other",
        **API,
    ),  # fmt: skip
    W("score", "page score post", "post", "/evaluations/reviews/{asg_ok}/", {"rev_ok"}, data={"technology": "1"}),
    W("score", "api ranking", "get", "/api/v1/phases/{phase}/ranking/", STAFF, **API),
    W("score", "page ranking", "get", "/evaluations/phases/{phase}/ranking/", STAFF),
    W("score", "page ranking csv", "get", "/evaluations/phases/{phase}/ranking.csv", STAFF),
    # phase result
    W("phase result", "page detail", "get", "/evaluations/results/{phase}/{app_a}/", TEAM_A),
    W("phase result", "page my results", "get", "/evaluations/results/", TEAM_A, kind="list", marker="ALPHA"),
    W("phase result", "api phase", "get", "/api/v1/phases/{phase}/", STAFF, **API),
    W("phase result", "api phase list", "get", "/api/v1/phases/", STAFF, kind="list", marker="phase", **API),
    W("phase result", "api publish", "post", "/api/v1/phases/{phase}/publish/", STAFF, **API),
    W("phase result", "api finalise", "post", "/api/v1/phases/{phase}/finalise/", STAFF, **API),
    W("phase result", "page phase", "get", "/evaluations/phases/{phase}/", STAFF),
    W("phase result", "page finalise", "post", "/evaluations/phases/{phase}/do/finalise/", STAFF),
    # appeal (A's)
    W("appeal", "api detail", "get", "/api/v1/appeals/{appeal_a}/", TEAM_A | STAFF, **API),
    W("appeal", "api list", "get", "/api/v1/appeals/", TEAM_A | STAFF, kind="list", marker="appeal_a", **API),
    W(
        "appeal",
        "api decide",
        "post",
        "/api/v1/appeals/{appeal_a}/decide/",
        STAFF,
        data={"upheld": False, "reasons": "기각"},
        **API,
    ),  # fmt: skip
    W(
        "appeal",
        "api file for A",
        "post",
        "/api/v1/appeals/",
        TEAM_A,
        collection=True,
        data={"phase": "{phase}", "application": "{app_a}", "grounds": "misreading", "text": "x"},
        **API,
    ),  # fmt: skip
    W("appeal", "page decide", "get", "/evaluations/appeals/{appeal_a}/", STAFF),
    W("appeal", "page list", "get", "/evaluations/appeals/", STAFF, kind="list", marker="ALPHA"),
    W(
        "appeal",
        "page file",
        "post",
        "/evaluations/results/{phase}/{app_a}/",
        TEAM_A,
        data={"grounds": "misreading", "text": "x"},
    ),  # fmt: skip
    # allocation run
    W("allocation run", "api detail", "get", "/api/v1/allocation-runs/{run}/", STAFF, **API),
    W("allocation run", "api list", "get", "/api/v1/allocation-runs/", STAFF, kind="list", marker="run", **API),
    W("allocation run", "api programme runs", "get", "/api/v1/programmes/{programme}/allocation-runs/", STAFF, **API),
    W("allocation run", "api approve", "post", "/api/v1/allocation-runs/{run}/approve/", STAFF, **API),
    W("allocation run", "api start", "post", "/api/v1/programmes/{programme}/allocation-runs/", STAFF, **API),
    W("allocation run", "page detail", "get", "/allocation/runs/{run}/", STAFF),
    W("allocation run", "page progress", "get", "/allocation/runs/{run}/progress/", STAFF),
    W("allocation run", "page list", "get", "/allocation/runs/?programme={programme}", STAFF),
    W("allocation run", "page approve", "post", "/allocation/runs/{run}/approve/", STAFF),
    W("allocation run", "page pool", "get", "/allocation/pool/", STAFF),
    W("allocation run", "page cluster edit", "get", "/allocation/pool/{cluster}/edit/", STAFF),
    # allocation (A's row of the run)
    W(
        "allocation",
        "api in run",
        "get",
        "/api/v1/allocation-runs/{run}/",
        STAFF,
        kind="list",
        marker="allocation_a",
        **API,
    ),  # fmt: skip
    W("allocation", "page in run", "get", "/allocation/runs/{run}/", STAFF, kind="list", marker="ALPHA 컨소시엄"),
    # award notice (A's)
    W("award notice", "api detail", "get", "/api/v1/award-notices/{notice_a}/", TEAM_A | STAFF, **API),
    W("award notice", "api pdf", "get", "/api/v1/award-notices/{notice_a}/pdf/", TEAM_A | STAFF, **API),
    W(
        "award notice",
        "api list",
        "get",
        "/api/v1/award-notices/",
        TEAM_A | STAFF,
        kind="list",
        marker="notice_a",
        **API,
    ),  # fmt: skip
    W("award notice", "page pdf", "get", "/allocation/notices/{notice_a}/pdf/", TEAM_A | STAFF),
    W(
        "award notice",
        "page list",
        "get",
        "/allocation/notices/",
        TEAM_A | STAFF,
        kind="list",
        marker="notice_a_number",
    ),  # fmt: skip
    W("award notice", "page issue", "post", "/allocation/notices/runs/{run}/issue/", STAFF),
    # export job
    W("export job", "api detail", "get", "/api/v1/notice-exports/{export}/", ADMIN, **API),
    W("export job", "api zip", "get", "/api/v1/notice-exports/{export}/zip/", ADMIN, **API),
    W("export job", "api list", "get", "/api/v1/notice-exports/", ADMIN, kind="list", marker="export", **API),
    W(
        "export job",
        "api start",
        "post",
        "/api/v1/notice-exports/",
        ADMIN,
        data={"run": "{run}"},
        collection=True,
        **API,
    ),  # fmt: skip
    W("export job", "page progress", "get", "/allocation/notices/exports/{export}/", ADMIN),
    W("export job", "page zip", "get", "/allocation/notices/exports/{export}/zip/", ADMIN),
    W("export job", "page start", "post", "/allocation/notices/runs/{run}/export/", ADMIN),
    # audit entry
    W("audit entry", "page log", "get", "/audit/", ADMIN),
    # progress report after the award (A's report of this period, a draft)
    W("progress report", "api detail", "get", "/api/v1/reports/{report_a}/", TEAM_A | STAFF, **API),
    W("progress report", "api list", "get", "/api/v1/reports/", TEAM_A | STAFF, kind="list", marker="report_a", **API),
    W(
        "progress report",
        "api patch",
        "patch",
        "/api/v1/reports/{report_a}/",
        TEAM_A,
        data={"progress": "HACKED", "revision": 1},
        **API,
    ),  # fmt: skip
    W("progress report", "api submit", "post", "/api/v1/reports/{report_a}/submit/", TEAM_A, **API),
    W(
        "progress report",
        "api review",
        "post",
        "/api/v1/reports/{report_a}/review/",
        STAFF,
        data={"accept": True},
        **API,
    ),
    W("progress report", "page detail", "get", "/reports/{report_a}/", TEAM_A | STAFF),
    W("progress report", "page my list", "get", "/reports/", TEAM_A, kind="list", marker="ALPHA 컨소시엄"),
    W(
        "progress report",
        "page officer list",
        "get",
        "/reports/officer/?programme={programme}",
        STAFF,
        kind="list",
        marker="ALPHA 컨소시엄",
    ),  # fmt: skip
    W(
        "progress report",
        "page edit post",
        "post",
        "/reports/{report_a}/",
        TEAM_A,
        data={"progress": "HACKED", "links": "", "revision": "1"},
    ),  # fmt: skip
    W("progress report", "page submit", "post", "/reports/{report_a}/submit/", TEAM_A),
    W("progress report", "page review", "post", "/reports/{report_a}/review/", STAFF, data={"decision": "accept"}),
    # GPU usage and spending of a report
    W("gpu usage", "api upload", "post", "/api/v1/reports/{report_a}/usage/", TEAM_A, **API),
    W("gpu usage", "page upload", "post", "/reports/{report_a}/usage/", TEAM_A),
    W("gpu usage", "page utilisation", "get", "/reports/officer/utilisation/?programme={programme}", STAFF),
    W("gpu usage", "page my usage", "get", "/reports/usage/", TEAM_A, kind="list", marker="ALPHA 컨소시엄"),
    W("spending", "api add", "post", "/api/v1/reports/{report_a}/spending/", TEAM_A, **API),
    W("spending", "page add", "post", "/reports/{report_a}/spending/", TEAM_A),
    W("spending", "page evidence", "get", "/reports/{report_a}/spending/{spending_a}/evidence/", TEAM_A | STAFF),
    W("spending", "api in report", "get", "/api/v1/reports/{report_a}/", TEAM_A | STAFF, **API),
    # GPU reclaim proposed to A
    W("gpu reclaim", "api detail", "get", "/api/v1/reclaims/{reclaim_a}/", TEAM_A | STAFF, **API),
    W("gpu reclaim", "api list", "get", "/api/v1/reclaims/", TEAM_A | STAFF, kind="list", marker="reclaim_a", **API),
    W(
        "gpu reclaim",
        "api respond",
        "post",
        "/api/v1/reclaims/{reclaim_a}/respond/",
        TEAM_A,
        data={"response": "사용 계획이 있습니다"},
        **API,
    ),  # fmt: skip
    W("gpu reclaim", "api decide", "post", "/api/v1/reclaims/{reclaim_a}/decide/", STAFF, data={"apply": False}, **API),
    W(
        "gpu reclaim",
        "api propose",
        "post",
        "/api/v1/reclaims/",
        STAFF,
        collection=True,
        data={
            "programme": "{programme}",
            "consortium": "{consortium_a}",
            "cluster": "{cluster}",
            "nodes": 1,
            "reason": "x",
        },
        **API,
    ),  # fmt: skip
    W("gpu reclaim", "page list", "get", "/reports/reclaims/", TEAM_A | STAFF, kind="list", marker="SEC-RECLAIM-사유"),
    W("gpu reclaim", "page respond", "post", "/reports/reclaims/{reclaim_a}/respond/", TEAM_A, data={"response": "x"}),
    W(
        "gpu reclaim",
        "page decide",
        "post",
        "/reports/reclaims/{reclaim_a}/decide/",
        STAFF,
        data={"decision": "withdraw"},
    ),
    W(
        "gpu reclaim",
        "page propose",
        "post",
        "/reports/reclaims/propose/",
        STAFF,
        data={
            "programme": "{programme}",
            "consortium": "{consortium_a}",
            "cluster": "{cluster}",
            "nodes": "1",
            "reason": "x",
        },
    ),  # fmt: skip
]


def _ids(world) -> dict:
    return {
        "programme": world.programme.pk,
        "org_a": world.org_a.pk,
        "consortium_a": world.consortium_a.pk,
        "app_a": world.app_a.pk,
        "app_sealed": world.app_sealed.pk,
        "attachment_a": world.attachment_a.pk,
        "attachment_sealed": world.attachment_sealed.pk,
        "phase": world.phase.pk,
        "asg_ok": world.asg_ok.pk,
        "asg_conflicted": world.asg_conflicted.pk,
        "asg_other": world.asg_other.pk,
        "appeal_a": world.appeal_a.pk,
        "run": world.run.pk,
        "cluster": world.cluster.pk,
        "allocation_a": world.allocation_a.pk,
        "notice_a": world.notice_a.pk,
        "notice_a_number": world.notice_a.number,
        "export": world.export.pk,
        "report_a": world.report_a.pk,
        "spending_a": world.spending_a.pk,
        "reclaim_a": world.reclaim_a.pk,
    }


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


PARAMS = [pytest.param(case, actor, id=f"{case.id}@{actor}") for case in CASES for actor in ACTORS]


def _request(client, case: Case, ids: dict):
    url = _fill(case.url, ids)
    data = _fill(case.data, ids)
    if case.api:
        kwargs = {"format": "json"} if data is not None else {}
        return (
            getattr(client, case.method)(url, data, **kwargs) if data is not None else getattr(client, case.method)(url)
        )
    if case.method == "get":
        return client.get(url)
    return getattr(client, case.method)(url, data or {})


def _listed(response, case: Case, ids: dict) -> bool:
    if response.status_code != 200:
        return False
    marker = ids.get(case.marker, case.marker)
    if case.api:
        body = response.json()
        rows = body.get("results", body.get("allocations", body)) if isinstance(body, dict) else body
        return any(isinstance(r, dict) and r.get("id") == marker for r in rows)
    return str(marker) in response.content.decode()


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


@pytest.mark.parametrize(("case", "actor"), PARAMS)
def test_permission_matrix(world, as_actor, case: Case, actor: str):
    ids = _ids(world)
    client = as_actor(actor, api=case.api)
    before = world_snapshot() if case.kind == "write" and actor not in case.allowed else None
    response = _request(client, case, ids)
    status = response.status_code
    assert status < 500, f"{case.id}@{actor}: server error {status}"
    if actor == "anon":
        if case.api:
            assert status in (401, 403), f"{case.id}: anonymous API call answered {status}"
        else:
            assert _is_login_redirect(response), f"{case.id}: anonymous page answered {status}"
    elif case.kind == "list":
        listed = _listed(response, case, ids)
        if actor in case.allowed:
            assert listed, f"{case.id}: {actor} should see the object in the list (status {status})"
        else:
            assert not listed, f"{case.id}: the object APPEARS in {actor}'s list"
    elif actor in case.allowed:
        assert status not in (401, 403, 404, 405), f"{case.id}: {actor} is refused ({status})"
        assert not _is_login_redirect(response)
        if case.kind == "detail":
            assert status in (200, 302), f"{case.id}: {actor} got {status}"
    else:
        expected = (403, 404) if case.collection else (404,)
        assert status in expected, f"{case.id}: UNEXPECTED ALLOW or wrong refusal for {actor}: {status}"
    if before is not None:
        assert world_snapshot() == before, f"{case.id}: the refused write by {actor} changed data"


def test_matrix_size():
    """The matrix covers every actor and object type; its size is printed in the summary."""
    objects = {c.obj for c in CASES}
    print(f"\npermission matrix: {len(CASES)} actions × {len(ACTORS)} actors = {len(PARAMS)} cases, "
          f"{len(objects)} object types")  # fmt: skip
    assert len(objects) >= 16
    assert len(PARAMS) == len(CASES) * len(ACTORS)


@pytest.mark.parametrize("actor", ["officer", "admin"])
def test_sealed_submission_shows_state_not_contents(world, as_actor, actor):
    """Before the deadline officers (and administrators without a recorded reason) see the
    state of a submission, never its contents (SPEC §4)."""
    client = as_actor(actor, api=True)
    body = client.get(f"/api/v1/applications/{world.app_sealed.pk}/").json()
    assert body["sealed"] is True and body["state"] == "submitted"
    assert "title" not in body and "summary" not in body
    listed = client.get("/api/v1/applications/").json()["results"]
    row = next(r for r in listed if r["id"] == world.app_sealed.pk)
    assert "title" not in row
    page = as_actor(actor).get(f"/consortia/officer/applications/{world.app_sealed.pk}/")
    assert page.status_code == 200 and "SEALED 제안서" not in page.content.decode()


def test_reviewer_sees_only_own_scores(world, as_actor):
    """A reviewer's phase list holds their own assignment and scores, no one else's."""
    body = as_actor("rev_ok", api=True).get(f"/api/v1/phases/{world.phase.pk}/assignments/").json()
    assert [r["id"] for r in body["results"]] == [world.asg_ok.pk]
    assert {s["value"] for s in body["results"][0]["scores"]} == {"35.0", "25.0", "24.0"}


def test_superuser_administrator_keeps_django_admin(world, as_actor):
    """Portal rules bind superusers too, but the Django admin stays open to administrators."""
    client = as_actor("admin")
    assert client.get("/admin/").status_code == 200
    assert as_actor("officer").get("/admin/").status_code == 302
