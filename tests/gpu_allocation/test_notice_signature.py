"""PAdES signatures of award notices (SPEC §7): every issued notice is signed with the
configured certificate (read back with pyHanko and pypdf), the verification page validates
an uploaded file's signature (intact, altered, untrusted, unsigned), an RFC 3161 timestamp
when a timestamp authority is configured, and issuing fails clearly, issuing nothing, when
the key cannot be used. Real WeasyPrint output; a real worker where the issue task runs."""

from __future__ import annotations

import io
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from awards.services import notice_issue_for_run
from awards.signing import SigningUnavailable, make_test_pki, write_signing_files
from gpu_allocation.models import AwardNotice
from portal.models import AuditEntry, OutboxMessage
from tests.factories import UserFactory
from tests.factories_notices import approve, approved_run, rerun_same_teams

_addresses = itertools.count(1)


def anonymous(language: str = "en") -> Client:
    """A visitor from an address of its own (throttling counts per address), reading ``language``."""
    n = next(_addresses)
    return Client(REMOTE_ADDR=f"10.77.{n // 250}.{n % 250 + 1}", HTTP_ACCEPT_LANGUAGE=language)


def stored_pdf(notice: AwardNotice) -> bytes:
    with notice.pdf.open("rb") as handle:
        return handle.read()


def pyhanko_status(data: bytes, trust_root):
    """pyHanko's own validation of the file's signature against ``trust_root`` (no portal code)."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(trust_root.public_bytes(serialization.Encoding.DER))
    reader = PdfFileReader(io.BytesIO(data))
    (signature,) = reader.embedded_signatures
    return signature, validate_pdf_signature(signature, ValidationContext(trust_roots=[root]))


def fingerprint(cert) -> str:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex()


def upload(notice: AwardNotice, data: bytes, name: str = "notice.pdf", language: str = "en"):
    return anonymous(language).post(
        reverse("verify:notice", args=[notice.verification_code]),
        {"pdf": SimpleUploadedFile(name, data, content_type="application/pdf")},
    )


def one_byte_altered(data: bytes) -> bytes:
    """The file with one byte changed inside a content stream of the signed revision."""
    start = data.index(b"stream\n", len(data) // 4) + len(b"stream\n") + 64
    return data[:start] + bytes([data[start] ^ 0x01]) + data[start + 1 :]


@pytest.fixture
def other_signer(tmp_path, settings):
    """A second CA and signing certificate made in the test; the portal does not trust it."""
    _, ca, key, cert = make_test_pki(ca_name="OTHER Root CA", signer_name="OTHER Signing", organisation="OTHER 기관")
    return write_signing_files(tmp_path / "other", ca_cert=ca, signer_key=key, signer_cert=cert, passphrase=b"o")


# --------------------------------------------------------------------------- signing


@pytest.mark.django_db
def test_every_issued_notice_is_signed_by_the_configured_certificate_and_validates(notice_signing_key):
    setup = approved_run(teams=3)

    notices = notice_issue_for_run(run=setup.run, by=setup.officer)

    assert len(notices) == 3
    for notice in notices:
        data = stored_pdf(notice)
        signature, status = pyhanko_status(data, notice_signing_key.ca)
        assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
        assert status.coverage.name == "ENTIRE_FILE"
        assert status.signing_cert.sha256.hex() == fingerprint(notice_signing_key.cert)
        assert status.signer_reported_dt is not None  # the signing time (/M)
        assert abs(status.signer_reported_dt - notice.issued_at) < timedelta(minutes=5)
        assert status.timestamp_validity is None  # no timestamp authority configured
        assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES baseline
        # The row says what the file carries.
        assert "TEST Award Notice Signing" in notice.signer
        assert notice.signer_fingerprint == fingerprint(notice_signing_key.cert)
        assert notice.timestamped is False
        # A visible field over the signature box on page 1, and one page only.
        reader = PdfReader(io.BytesIO(data))
        assert len(reader.pages) == 1
        widgets = [a.get_object() for a in reader.pages[0]["/Annots"]]
        (field,) = [w for w in widgets if w.get("/FT") == "/Sig"]
        x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
        assert (x2 - x1, y2 - y1) > (150, 35)  # 62 mm × 15 mm
        assert 0 < x1 < x2 <= float(reader.pages[0].mediabox.width) and 0 < y1 < y2 < 400  # lower part of the page
        assert "/AP" in field and field["/T"] == "MinistrySignature"
        text = reader.pages[0].extract_text()
        assert "전자서명(PAdES B-B)" in text and "타임스탬프) 없음" in text
    print("\n" + status.pretty_print_details())  # pyHanko's validation summary, shown with -s


@pytest.mark.django_db
def test_a_pem_key_with_its_certificate_file_signs_too(tmp_path, settings):
    from cryptography.hazmat.primitives import serialization

    _, ca, key, cert = make_test_pki(ca_name="PEM Root CA", signer_name="PEM Signing", organisation="PEM 기관")
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pem-passphrase"),
        )
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    settings.NOTICE_SIGNING_KEY_FILE = str(tmp_path / "key.pem")
    settings.NOTICE_SIGNING_CERT_FILE = str(tmp_path / "cert.pem")
    settings.NOTICE_SIGNING_CHAIN_FILE = str(tmp_path / "chain.pem")
    settings.NOTICE_SIGNING_PASSPHRASE = "pem-passphrase"
    settings.NOTICE_SIGNING_PASSPHRASE_FILE = ""
    setup = approved_run(teams=1)

    notice = notice_issue_for_run(run=setup.run, by=setup.officer)[0]

    _, status = pyhanko_status(stored_pdf(notice), ca)
    assert status.bottom_line and status.signing_cert.sha256.hex() == fingerprint(cert)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"NOTICE_SIGNING_KEY_FILE": ""}, "No signing key is configured"),
        ({"NOTICE_SIGNING_KEY_FILE": "/nonexistent/ministry-signer.p12"}, "does not exist"),
        ({"NOTICE_SIGNING_PASSPHRASE_FILE": "", "NOTICE_SIGNING_PASSPHRASE": "wrong"}, "passphrase is wrong"),
        ({"NOTICE_SIGNING_OUTSIDE_WORKER": False}, "signed by the background worker only"),
    ],
)
def test_an_unusable_key_issues_nothing(settings, change, message):
    setup = approved_run(teams=2)
    for name, value in change.items():
        setattr(settings, name, value)

    with pytest.raises(SigningUnavailable) as refused, translation.override("en"):
        notice_issue_for_run(run=setup.run, by=setup.officer)

    assert message in refused.value.message
    assert AwardNotice.objects.count() == 0


def test_missing_key_fails_the_issue_task_visibly_and_audited(
    db, settings, client_for, officer, admin_user, notice_signing_key
):
    """Through the task as the approval's outbox row runs it: nothing issued, the row failed,
    the failure audited, and the notices page tells the administrator what to fix."""
    from awards.tasks import notice_issue_for_run_task
    from portal.outbox import outbox_publish

    setup = approved_run(teams=2)
    outbox_publish(task_name="gpu_allocation.notice_issue_for_run", kwargs={}, dedupe_key=f"notices:run:{setup.run.pk}")
    settings.NOTICE_SIGNING_KEY_FILE = "/nonexistent/ministry-signer.p12"

    result = notice_issue_for_run_task.apply(kwargs={"run_id": setup.run.pk, "by_id": setup.officer.pk})

    assert result.get() == []
    assert AwardNotice.objects.count() == 0
    failure = AuditEntry.objects.get(action="award_notice.issue_fail")
    assert failure.object_id == str(setup.run.pk)
    assert "/nonexistent/ministry-signer.p12" in failure.after["error"]
    row = OutboxMessage.objects.get(dedupe_key=f"notices:run:{setup.run.pk}")
    assert row.status == "failed" and "/nonexistent/ministry-signer.p12" in row.last_error
    for user in (admin_user, officer):
        page = client_for(user).get(
            reverse("gpu_allocation:notice_list") + f"?run={setup.run.pk}", HTTP_ACCEPT_LANGUAGE="en"
        )
        html = page.content.decode()
        assert 'data-testid="issue-failed"' in html
        assert "NOTICE_SIGNING_KEY_FILE" in html and "/nonexistent/ministry-signer.p12" in html

    # Once the key is back, issuing again issues signed notices and the banner goes.
    settings.NOTICE_SIGNING_KEY_FILE = str(notice_signing_key.key_file)
    notice_issue_for_run_task.apply(kwargs={"run_id": setup.run.pk, "by_id": setup.officer.pk})
    assert AwardNotice.objects.filter(allocation__run=setup.run).count() == 2
    html = client_for(admin_user).get(reverse("gpu_allocation:notice_list") + f"?run={setup.run.pk}").content.decode()
    assert 'data-testid="issue-failed"' not in html


def test_export_with_a_missing_key_fails_with_the_reason(db, settings):
    from awards.services import notice_export_build, notice_export_start

    setup = approved_run(teams=1)
    settings.NOTICE_SIGNING_KEY_FILE = ""
    export = notice_export_start(run=setup.run, by=UserFactory(role="admin"))
    with pytest.raises(SigningUnavailable), translation.override("en"):
        notice_export_build(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == "failed" and "No signing key is configured" in export.error
    assert AwardNotice.objects.count() == 0


# --------------------------------------------------------------------------- verification page


@pytest.fixture
def issued(db):
    setup = approved_run(teams=1)
    notice = notice_issue_for_run(run=setup.run, by=setup.officer)[0]
    return setup, notice, stored_pdf(notice)


def test_verify_page_states_the_signature_of_the_issued_notice(issued):
    _, notice, _ = issued
    html = anonymous().get(reverse("verify:notice", args=[notice.verification_code])).content.decode()
    assert 'data-testid="verify-signature-facts"' in html
    assert "TEST Award Notice Signing" in html
    assert "PAdES B-B" in html


def test_uploaded_issued_notice_is_reported_intact_signed_and_trusted(issued):
    _, notice, data = issued

    response = upload(notice, data)

    assert response.status_code == 200
    report = response.context["signature"]
    assert (report.state, report.intact, report.valid, report.trusted, report.ok) == ("checked", True, True, True, True)
    assert "TEST Award Notice Signing" in report.signer
    assert report.fingerprint_sha256 == notice.signer_fingerprint
    assert report.timestamped is False
    assert "The signature is judged VALID." in report.summary
    html = response.content.decode()
    assert 'data-intact="true"' in html and 'data-trusted="true"' in html
    assert response.context["check"].matches is True


def test_a_notice_altered_by_one_byte_fails_the_hash_and_the_signature_check(issued, notice_signing_key):
    _, notice, data = issued
    altered = one_byte_altered(data)
    assert len(altered) == len(data) and sum(a != b for a, b in zip(altered, data, strict=True)) == 1

    response = upload(notice, altered)

    assert response.status_code == 200
    assert response.context["check"].matches is False
    report = response.context["signature"]
    assert report.state == "checked"
    assert report.intact is False and report.ok is False
    assert "The signature is judged INVALID." in report.summary
    html = response.content.decode()
    assert 'data-intact="false"' in html
    assert "the file was altered after it was signed" in html
    assert "Not checked: the signature does not match the file" in html  # not called "untrusted"
    # pyHanko itself agrees.
    _, status = pyhanko_status(altered, notice_signing_key.ca)
    assert status.intact is False and status.bottom_line is False


def test_a_notice_signed_by_another_certificate_is_reported_untrusted(issued, settings, other_signer):
    setup, _, _ = issued
    # A second run for the same teams, issued while the worker holds another certificate.
    new_run = rerun_same_teams(setup)
    approve(new_run, setup.officer)
    settings.NOTICE_SIGNING_KEY_FILE = str(other_signer["key_file"])
    settings.NOTICE_SIGNING_PASSPHRASE_FILE = str(other_signer["passphrase_file"])
    forged = notice_issue_for_run(run=new_run, by=setup.officer)[0]

    response = upload(forged, stored_pdf(forged))

    report = response.context["signature"]
    assert response.context["check"].matches is True  # the very file stored, yet:
    assert (report.state, report.intact, report.valid) == ("checked", True, True)
    assert report.trusted is False and report.ok is False
    assert "OTHER Signing" in report.signer
    assert "untrusted" in report.summary
    html = response.content.decode()
    assert 'data-trusted="false"' in html and "UNTRUSTED" in html


def test_unsigned_and_damaged_pdfs_get_clear_messages(issued):
    _, notice, data = issued
    import weasyprint

    plain = weasyprint.HTML(string="<p>자원 배정 통지서 사본</p>").write_pdf()

    unsigned = upload(notice, plain)
    damaged = upload(notice, data[: len(data) // 2])

    assert unsigned.status_code == 200
    assert unsigned.context["signature"].state == "unsigned"
    assert "carries no digital signature" in unsigned.content.decode()
    assert damaged.context["signature"].state in ("unreadable", "unsigned")
    assert damaged.context["check"].matches is False
    junk = upload(notice, b"%PDF-1.7\n" + bytes(range(256)) * 8)  # a PDF header, then noise
    assert junk.status_code == 200 and junk.context["signature"].state == "unreadable"
    assert "could not be read" in junk.content.decode()


def test_non_pdf_upload_is_refused_before_any_check(issued):
    _, notice, _ = issued
    response = upload(notice, b"\x89PNG\r\n\x1a\n not a pdf", name="notice.png")
    assert response.status_code == 400
    assert response.context["signature"] is None and response.context["check"] is None
    assert "This file is not a PDF" in response.content.decode()


def test_superseded_notice_stays_valid_and_names_its_successor(issued):
    setup, notice, data = issued
    new_run = rerun_same_teams(setup, budget_delta=500_000_000)
    approve(new_run, setup.officer)
    replacement = notice_issue_for_run(run=new_run, by=setup.officer)[0]

    response = upload(notice, data)

    html = response.content.decode()
    assert response.context["notice_in_force"] is False
    assert 'data-testid="verify-superseded-by"' in html and replacement.number in html
    assert "remains a genuine record" in html
    assert response.context["signature"].ok is True  # the old file is still intact and signed
    assert response.context["check"].matches is True


# --------------------------------------------------------------------------- timestamp


class _TimestampAuthority(BaseHTTPRequestHandler):
    """An RFC 3161 responder over HTTP (pyHanko's test stamper signs the tokens)."""

    def do_POST(self):  # noqa: N802 -- the http.server API
        from asn1crypto import tsp

        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(self.headers.get("Content-Type"))
        answer = self.server.stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        return


def _tsa_certificate(ca_key, ca_cert):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST Timestamp Authority")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture
def timestamp_authority(notice_signing_key):
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key, cert = _tsa_certificate(notice_signing_key.ca_key, notice_signing_key.ca)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TimestampAuthority)
    server.requests = []
    server.stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_with_a_timestamp_authority_the_notice_carries_an_rfc3161_timestamp(
    settings, timestamp_authority, notice_signing_key
):
    settings.NOTICE_TSA_URL = f"http://127.0.0.1:{timestamp_authority.server_port}/"
    setup = approved_run(teams=1)

    notice = notice_issue_for_run(run=setup.run, by=setup.officer)[0]

    data = stored_pdf(notice)
    # pyHanko asks once to size the signature, once for the token it embeds.
    assert timestamp_authority.requests and set(timestamp_authority.requests) == {"application/timestamp-query"}
    _, status = pyhanko_status(data, notice_signing_key.ca)
    assert status.bottom_line and status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    assert notice.timestamped is True
    assert "RFC 3161 타임스탬프) 포함" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
    response = upload(notice, data)
    report = response.context["signature"]
    assert report.timestamped and report.timestamp_ok and report.timestamp_at is not None
    html = response.content.decode()
    assert "PAdES B-T" in html and "Present and valid" in html
    korean = upload(notice, data, language="ko").content.decode()
    assert "RFC 3161 타임스탬프 포함(PAdES B-T)." in korean and "있음, 유효" in korean


@pytest.mark.django_db
def test_an_unreachable_timestamp_authority_issues_nothing(settings):
    settings.NOTICE_TSA_URL = "http://127.0.0.1:9/"  # the discard port: nothing answers
    setup = approved_run(teams=1)
    with pytest.raises(SigningUnavailable) as refused, translation.override("en"):
        notice_issue_for_run(run=setup.run, by=setup.officer)
    assert "timestamp authority" in refused.value.message
    assert AwardNotice.objects.count() == 0


# --------------------------------------------------------------------------- real worker


def _wait_for(predicate, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.worker
def test_a_real_worker_signs_the_notices_of_an_approval(transactional_db, settings, notice_signing_key):
    """Only the worker may sign (NOTICE_SIGNING_OUTSIDE_WORKER=0 for it and for this process):
    the approval's outbox row reaches a worker process, which renders and signs."""
    from tests.conftest import real_worker, redis_url

    if not redis_url():
        pytest.skip("REDIS_URL is not set: no broker to run a real Celery worker on")
    settings.NOTICE_SIGNING_OUTSIDE_WORKER = False
    setup = approved_run(teams=2, approved=False)
    with real_worker(settings, NOTICE_SIGNING_OUTSIDE_WORKER="0"):
        from gpu_allocation.services import allocation_run_approve

        allocation_run_approve(run=setup.run, by=setup.officer)
        assert _wait_for(lambda: AwardNotice.objects.filter(allocation__run=setup.run).count() == 2)
    for notice in AwardNotice.objects.filter(allocation__run=setup.run):
        _, status = pyhanko_status(stored_pdf(notice), notice_signing_key.ca)
        assert status.bottom_line and status.signing_cert.sha256.hex() == fingerprint(notice_signing_key.cert)
    assert OutboxMessage.objects.get(dedupe_key=f"notices:run:{setup.run.pk}").status == "done"


@pytest.mark.worker
def test_a_real_worker_without_its_key_issues_nothing_and_says_why(transactional_db, settings, client_for):
    from tests.conftest import mark_reauthenticated, real_worker, redis_url

    if not redis_url():
        pytest.skip("REDIS_URL is not set: no broker to run a real Celery worker on")
    from tests.conftest import _with_totp

    officer = _with_totp(UserFactory(role="officer"))
    setup = approved_run(teams=1)
    with real_worker(settings, NOTICE_SIGNING_KEY_FILE="/nonexistent/ministry-signer.p12"):
        c = client_for(officer)
        mark_reauthenticated(c, officer)
        assert c.post(reverse("gpu_allocation:notice_issue", args=[setup.run.pk])).status_code == 302
        assert _wait_for(lambda: AuditEntry.objects.filter(action="award_notice.issue_fail").exists())
    assert AwardNotice.objects.count() == 0
    html = c.get(reverse("gpu_allocation:notice_list") + f"?run={setup.run.pk}").content.decode()
    assert 'data-testid="issue-failed"' in html and "/nonexistent/ministry-signer.p12" in html


# --------------------------------------------------------------------------- demo certificate


@pytest.mark.django_db
def test_the_demo_certificate_is_marked_demo_kept_out_of_the_repository_and_signs(tmp_path, settings):
    import subprocess

    from awards.signing import demo_pki_ensure
    from tests.conftest import ROOT

    directory = tmp_path / "signing"
    settings.NOTICE_SIGNING_DEMO_DIR = directory
    settings.NOTICE_SIGNING_KEY_FILE = str(directory / "signer.p12")
    settings.NOTICE_SIGNING_PASSPHRASE_FILE = str(directory / "signer.passphrase")
    settings.NOTICE_SIGNING_TRUST_ROOTS = str(directory / "ca.pem")

    first = demo_pki_ensure()
    again = demo_pki_ensure()

    assert first["created"] is True and again["created"] is False  # made once, then kept
    assert "DEMO" in first["subject"] and "not for real use" in first["subject"]
    passphrase = (directory / "signer.passphrase").read_text().strip()
    assert passphrase not in repr(first)  # what seed_demo prints holds nothing secret
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in directory.iterdir()} == {
        "signer.p12": "0o600", "signer.passphrase": "0o600", "ca.pem": "0o600", "signer.pem": "0o600",
    }  # fmt: skip
    # The default place, var/signing/, is ignored by git.
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/signing/signer.p12"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
    setup = approved_run(teams=1)
    notice = notice_issue_for_run(run=setup.run, by=setup.officer)[0]
    assert "DEMO Award Notice Signing" in notice.signer
    assert upload(notice, stored_pdf(notice)).context["signature"].ok is True


@pytest.mark.django_db
def test_seed_demo_leaves_a_configured_ministry_key_alone(tmp_path, settings, notice_signing_key):
    from awards.signing import demo_pki_ensure

    settings.NOTICE_SIGNING_DEMO_DIR = tmp_path / "signing"
    result = demo_pki_ensure()
    assert result["created"] is False and not (tmp_path / "signing").exists()
