"""PAdES signatures of award notices (SPEC §7): signing in the worker, validation on the
verification page, and the demo PKI of ``seed_demo``.

Signing (:func:`notice_sign_pdf`): every issued notice carries one PAdES baseline signature
(B-B; B-T when ``NOTICE_TSA_URL`` names an RFC 3161 timestamp authority) made with pyHanko:
subfilter ``ETSI.CAdES.detached``, SHA-256, the signing time in the signature dictionary
(``/M``), and a visible signature field placed over the box the template prints in the
notice's signature block. The field's appearance names the signer and the time.

Key handling: the ministry's key and certificate chain are read from files named by the
environment (``NOTICE_SIGNING_KEY_FILE``: a PKCS#12 file, or a PEM private key with
``NOTICE_SIGNING_CERT_FILE``; ``NOTICE_SIGNING_CHAIN_FILE`` for intermediates; the passphrase
from ``NOTICE_SIGNING_PASSPHRASE`` or the file ``NOTICE_SIGNING_PASSPHRASE_FILE``). Nothing
of the key is written to the database, the storage or a log. :func:`notice_signer_load`
refuses — with :class:`SigningUnavailable`, a message an administrator can act on — when
the key is not configured, unreadable, the passphrase is wrong, the certificate is outside
its validity or lacks the signing key usages, or when it is called outside a Celery worker
(``NOTICE_SIGNING_OUTSIDE_WORKER`` lets tests and the bench sign in their own process).
Issuing calls it before rendering anything, so a missing key issues nothing, never an
unsigned notice.

Validation (:func:`notice_validate_pdf`): pyHanko's validator with the trust roots of
``NOTICE_SIGNING_TRUST_ROOTS`` (PEM); no network (no revocation fetching, soft-fail).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from portal.errors import DomainError

logger = logging.getLogger(__name__)
# fontTools reports every table it prunes while the signature's font subset is made.
logging.getLogger("fontTools").setLevel(logging.WARNING)

SIGNATURE_FIELD = "MinistrySignature"
#: The id of the template's signature box (templates/pdf/award_notice.html).
FIELD_ANCHOR = "notice-signature-field"
DEMO_MARK = "DEMO"


class SigningUnavailable(DomainError):
    """The worker cannot sign: no usable key. Issuing stops; nothing is issued unsigned."""

    status_code = 503

    def __init__(self, message: str):
        super().__init__(message, code="signing_unavailable")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SigningConfig:
    key_file: str
    cert_file: str
    chain_file: str
    passphrase: str = field(repr=False)
    passphrase_file: str
    tsa_url: str


def signing_config() -> SigningConfig:
    return SigningConfig(
        key_file=getattr(settings, "NOTICE_SIGNING_KEY_FILE", "") or "",
        cert_file=getattr(settings, "NOTICE_SIGNING_CERT_FILE", "") or "",
        chain_file=getattr(settings, "NOTICE_SIGNING_CHAIN_FILE", "") or "",
        passphrase=getattr(settings, "NOTICE_SIGNING_PASSPHRASE", "") or "",
        passphrase_file=getattr(settings, "NOTICE_SIGNING_PASSPHRASE_FILE", "") or "",
        tsa_url=getattr(settings, "NOTICE_TSA_URL", "") or "",
    )


def timestamp_configured() -> bool:
    return bool(signing_config().tsa_url)


def in_worker() -> bool:
    """True while a Celery worker executes a task in this process (not an eager call)."""
    from celery import current_task

    request = getattr(current_task, "request", None) if current_task else None
    return bool(request is not None and request.id and not request.called_directly and not request.is_eager)


@dataclass(frozen=True)
class LoadedSigner:
    signer: object = field(repr=False)  # pyhanko SimpleSigner; holds the key in memory only
    subject: str
    common_name: str
    fingerprint_sha256: str
    not_after: datetime


_cache_lock = threading.Lock()
_signer_cache: dict[tuple, LoadedSigner] = {}


def _read(path: str, what: str, variable: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise SigningUnavailable(
            _("The %(what)s file named by %(variable)s does not exist: %(path)s. No notice was issued.")
            % {"what": what, "variable": variable, "path": path}
        ) from exc
    except OSError as exc:
        raise SigningUnavailable(
            _("The %(what)s file named by %(variable)s cannot be read (%(error)s). No notice was issued.")
            % {"what": what, "variable": variable, "error": exc.strerror or type(exc).__name__}
        ) from exc


def _passphrase(config: SigningConfig) -> bytes | None:
    if config.passphrase:
        return config.passphrase.encode()
    if config.passphrase_file:
        return _read(config.passphrase_file, _("passphrase"), "NOTICE_SIGNING_PASSPHRASE_FILE").strip() or None
    return None


def _file_identity(*paths: str) -> tuple:
    out = []
    for path in paths:
        if not path:
            out.append(None)
            continue
        try:
            stat = os.stat(path)
        except OSError:
            out.append((path, None))
        else:
            out.append((path, stat.st_mtime_ns, stat.st_size))
    return tuple(out)


def notice_signer_load() -> LoadedSigner:
    """The configured signer, checked; raises :class:`SigningUnavailable` with the reason.

    Loaded once per worker process and file version (a replaced key file is read anew).
    """
    if not (in_worker() or getattr(settings, "NOTICE_SIGNING_OUTSIDE_WORKER", False)):
        raise SigningUnavailable(
            _("Award notices are signed by the background worker only; this process does not use the signing key.")
        )
    config = signing_config()
    if not config.key_file:
        raise SigningUnavailable(
            _(
                "No signing key is configured: set NOTICE_SIGNING_KEY_FILE for the worker (a PKCS#12 file, "
                "or a PEM key with NOTICE_SIGNING_CERT_FILE). No notice was issued; notices are never issued unsigned."
            )
        )
    identity = (
        _file_identity(config.key_file, config.cert_file, config.chain_file, config.passphrase_file),
        hashlib.sha256(config.passphrase.encode()).hexdigest(),
    )
    with _cache_lock:
        cached = _signer_cache.get(identity)
    if cached is None:
        cached = _load(config)
        with _cache_lock:
            _signer_cache.clear()
            _signer_cache[identity] = cached
    _check_validity(cached)
    return cached


def _load(config: SigningConfig) -> LoadedSigner:
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_bytes = _read(config.key_file, _("signing key"), "NOTICE_SIGNING_KEY_FILE")
    passphrase = _passphrase(config)
    chain = []
    if config.chain_file:
        chain = list(
            load_certs_from_pemder_data(_read(config.chain_file, _("certificate chain"), "NOTICE_SIGNING_CHAIN_FILE"))
        )
    looks_pem = pem.detect(key_bytes)
    if not looks_pem:
        try:
            signer = signers.SimpleSigner.load_pkcs12_data(key_bytes, other_certs=chain, passphrase=passphrase)
        except ValueError as exc:
            raise SigningUnavailable(
                _(
                    "The signing key file could not be opened: the passphrase is wrong or the file is not a "
                    "PKCS#12 file. No notice was issued."
                )
            ) from exc
    else:
        if not config.cert_file:
            raise SigningUnavailable(
                _("NOTICE_SIGNING_KEY_FILE holds a PEM key; also set NOTICE_SIGNING_CERT_FILE. No notice was issued.")
            )
        try:
            key = load_private_key_from_pemder_data(key_bytes, passphrase=passphrase)
        except (ValueError, TypeError) as exc:
            raise SigningUnavailable(
                _("The PEM signing key could not be opened: the passphrase is wrong or the key is damaged.")
            ) from exc
        try:
            certs = list(
                load_certs_from_pemder_data(_read(config.cert_file, _("certificate"), "NOTICE_SIGNING_CERT_FILE"))
            )
        except ValueError as exc:
            raise SigningUnavailable(_("The signing certificate file holds no readable certificate.")) from exc
        if not certs:
            raise SigningUnavailable(_("The signing certificate file holds no readable certificate."))
        store = SimpleCertificateStore()
        store.register_multiple([*certs[1:], *chain])
        signer = signers.SimpleSigner(signing_cert=certs[0], signing_key=key, cert_registry=store)
    signer = _cached_key_signer(signer)
    cert: asn1_x509.Certificate = signer.signing_cert
    usage = cert.key_usage_value.native if cert.key_usage_value is not None else set()
    if usage and not ({"digital_signature", "non_repudiation"} & set(usage)):
        raise SigningUnavailable(
            _("The signing certificate does not allow document signatures (key usage). No notice was issued.")
        )
    return LoadedSigner(
        signer=signer,
        subject=cert.subject.human_friendly,
        common_name=cert.subject.native.get("common_name", "") or cert.subject.human_friendly,
        fingerprint_sha256=cert.sha256.hex(),
        not_after=cert.not_valid_after,
    )


def _cached_key_signer(simple):
    """The same signer, holding its key as a ``cryptography`` object parsed once.

    pyHanko's SimpleSigner parses the DER key on every raw signature (twice per PDF: the
    size estimate and the real one), and RSA key parsing checks the key, ~0.1 s each.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.signers import SimpleSigner

    class CachedKeySigner(SimpleSigner):
        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            try:
                algorithm = mechanism.signature_algo
            except ValueError:
                algorithm = mechanism["algorithm"].native
            if algorithm == "rsassa_pkcs1v15":
                return self._crypto_key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
            return super().sign_raw(data, digest_algorithm)  # other mechanisms: pyHanko's own path

    fast = CachedKeySigner(
        signing_cert=simple.signing_cert,
        signing_key=simple.signing_key,
        cert_registry=simple.cert_registry,
        signature_mechanism=simple.signature_mechanism,
    )
    fast._crypto_key = serialization.load_der_private_key(simple.signing_key.dump(), password=None)
    return fast


def _check_validity(loaded: LoadedSigner) -> None:
    cert = loaded.signer.signing_cert
    now = datetime.now(tz=UTC)
    if now < cert.not_valid_before or now > cert.not_valid_after:
        raise SigningUnavailable(
            _("The signing certificate is not valid now (valid %(start)s to %(end)s). No notice was issued.")
            % {"start": f"{cert.not_valid_before:%Y-%m-%d}", "end": f"{cert.not_valid_after:%Y-%m-%d}"}
        )


# --------------------------------------------------------------------------- signing

_font_lock = threading.Lock()
_stamp_fonts: dict[frozenset, bytes] = {}
#: Characters the signature's appearance may print besides the signer's name.
STAMP_CHARACTERS = frozenset("".join(chr(c) for c in range(0x20, 0x7F)) + "·–—" + "전자서명시점확인타임스탬프포함없음")


def stamp_font_bytes(text: str = "") -> bytes:
    """The notice's Korean font (Pretendard Regular) cut down to the characters the
    signature's appearance prints (:data:`STAMP_CHARACTERS` and ``text``, the signer's
    name), without layout tables. pyHanko subsets the font it embeds at every signature;
    on the full font (15,000 glyphs, large GSUB/GPOS) that takes about a second, on this
    cut a few milliseconds. Precomposed Hangul and Latin need no shaping. Made once per
    process and name, in memory (never written or distributed; the PDF embeds only the
    glyph subset, as the font's licence allows)."""
    characters = STAMP_CHARACTERS | frozenset(text)
    with _font_lock:
        cached = _stamp_fonts.get(characters)
        if cached is None:
            from django.contrib.staticfiles import finders
            from fontTools import subset
            from fontTools.ttLib import TTFont

            font = TTFont(finders.find("fonts/pretendard/Pretendard-Regular.otf"))
            for tag in ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "kern"):
                if tag in font:
                    del font[tag]
            options = subset.Options()
            options.layout_features = []
            options.hinting = False
            options.notdef_outline = True
            options.name_IDs = ["*"]
            options.name_languages = ["*"]
            subsetter = subset.Subsetter(options)
            subsetter.populate(text="".join(sorted(characters)))
            subsetter.subset(font)
            buffer = io.BytesIO()
            font.save(buffer)
            cached = _stamp_fonts[characters] = buffer.getvalue()
        return cached


def _font_factory(font_size: int, text: str):
    """A pyHanko font engine factory for the stamp font with widths in PDF text units.

    pyHanko (0.38) writes glyph widths and TJ adjustments in the font's own units, while PDF
    reads them as 1/1000 em; Pretendard has 2048 units per em, so its text would run twice
    as wide. The engine below asks HarfBuzz for 1000-unit positions and scales the widths.
    """
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory

    class ThousandUnitAccumulator(GlyphAccumulator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._source_upem = self.units_per_em
            if self._source_upem != 1000:
                self.hb_font.scale = (1000, 1000)
                self.units_per_em = 1000

        def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
            if glyph_id not in self._glyphs:
                cid, width = super()._get_cid_and_width(glyph_id)
                self._glyphs[glyph_id] = (cid, round(width * 1000 / self._source_upem))
            return self._glyphs[glyph_id]

    class Factory(GlyphAccumulatorFactory):
        def create_font_engine(self, writer, obj_stream=None):
            if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
                obj_stream = writer.prepare_object_stream()
            return ThousandUnitAccumulator(
                writer=writer, font_handle=io.BytesIO(stamp_font_bytes(text)), font_size=self.font_size,
                obj_stream=obj_stream,
            )  # fmt: skip

    return Factory(font_file="", font_size=font_size)


def _stamp_style(*, timestamped: bool, signer_name: str):
    from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    ts_line = "시점확인 RFC 3161 타임스탬프 포함" if timestamped else "타임스탬프 없음 · no timestamp"
    return TextStampStyle(
        stamp_text="전자서명 · Digitally signed (PAdES)\n%(signer)s\n%(ts)s\n" + ts_line,
        timestamp_format="%Y-%m-%d %H:%M:%S %Z",
        border_width=0,
        background=None,
        text_box_style=TextBoxStyle(
            font=_font_factory(6, signer_name),
            leading=9,
            text_color=(0.106, 0.227, 0.42),
        ),
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID, y_align=AxisAlignment.ALIGN_MID, margins=Margins.uniform(2)
        ),
    )


def _timestamper(url: str):
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(url, timeout=15)


def notice_sign_pdf(
    pdf: bytes, *, signer: LoadedSigner, box: tuple[float, float, float, float], page: int = 0
) -> bytes:
    """Sign ``pdf`` (PAdES, one visible field at ``box`` = (x1, y1, x2, y2) in points on ``page``).

    With ``NOTICE_TSA_URL`` the signature gets an RFC 3161 signature timestamp (B-T); a TSA
    that does not answer makes this raise :class:`SigningUnavailable` (never a silent B-B).
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter

    config = signing_config()
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason="자원 배정 통지서 발급 · Award notice issued",
        location=getattr(settings, "NOTICE_SIGNING_LOCATION", "") or None,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer.signer,
        timestamper=_timestamper(config.tsa_url) if config.tsa_url else None,
        stamp_style=_stamp_style(timestamped=bool(config.tsa_url), signer_name=signer.common_name),
        new_field_spec=SigFieldSpec(SIGNATURE_FIELD, box=tuple(round(v) for v in box), on_page=page),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    try:
        output = _outside_event_loop(pdf_signer.sign_pdf, writer, appearance_text_params={"signer": signer.common_name})
    except Exception as exc:
        if config.tsa_url and _is_timestamp_error(exc):
            raise SigningUnavailable(
                _("The timestamp authority did not answer (%(error)s). No notice was issued.")
                % {"error": f"{type(exc).__name__}: {exc}"[:200]}
            ) from exc
        raise
    return output.getvalue()


def _outside_event_loop(function, *args, **kwargs):
    """Call one of pyHanko's synchronous wrappers (each runs ``asyncio.run``); from a thread
    that already runs an event loop, call it on a helper thread instead."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def _is_timestamp_error(exc: BaseException) -> bool:
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    seen = exc
    while seen is not None:
        if isinstance(seen, TimestampRequestError | OSError | TimeoutError) or "aiohttp" in type(seen).__module__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def field_box(anchors: dict) -> tuple[int, tuple[float, float, float, float]]:
    """(page, (x1, y1, x2, y2)) of the template's signature box from the rendering's anchors."""
    return anchors[FIELD_ANCHOR]


# --------------------------------------------------------------------------- validation


def trust_roots() -> list:
    """The configured trust roots (asn1crypto certificates) from ``NOTICE_SIGNING_TRUST_ROOTS``."""
    from pyhanko.keys import load_certs_from_pemder_data

    path = getattr(settings, "NOTICE_SIGNING_TRUST_ROOTS", "") or ""
    if not path:
        return []
    try:
        return list(load_certs_from_pemder_data(Path(path).read_bytes()))
    except (OSError, ValueError):
        logger.error("NOTICE_SIGNING_TRUST_ROOTS cannot be read: %s", path)
        return []


@dataclass(frozen=True)
class SignatureReport:
    """What the verification page says about an uploaded file's signature."""

    state: str  # "unsigned" | "unreadable" | "checked"
    signer: str = ""
    intact: bool = False
    valid: bool = False  # the signature value checks against the signer's key
    trusted: bool = False  # the signer's chain leads to a configured trust root
    trust_configured: bool = False
    covers_whole_file: bool = False
    changed_after_signing: bool = False
    signed_at: datetime | None = None
    timestamped: bool = False
    timestamp_at: datetime | None = None
    timestamp_ok: bool = False
    trust_anchor: str = ""
    fingerprint_sha256: str = ""
    summary: str = ""
    signatures: int = 0

    @property
    def ok(self) -> bool:
        return self.state == "checked" and self.intact and self.valid and self.trusted and self.covers_whole_file


def notice_validate_pdf(data: bytes) -> SignatureReport:
    """Validate the last PAdES signature of ``data`` against the configured trust roots.

    Never raises for a bad file: a PDF pyHanko cannot parse is ``unreadable``, one without
    a signature ``unsigned``.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 -- public uploads: any parser failure means "unreadable"
        logger.info("uploaded PDF unreadable: %s: %s", type(exc).__name__, exc)
        return SignatureReport(state="unreadable")
    if not signatures:
        return SignatureReport(state="unsigned")
    embedded = signatures[-1]
    roots = trust_roots()
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = _outside_event_loop(validate_pdf_signature, embedded, context)
    except Exception as exc:  # noqa: BLE001 -- a malformed signature of an upload is "unreadable", never a 500
        logger.info("uploaded PDF signature unreadable: %s: %s", type(exc).__name__, exc)
        return SignatureReport(state="unreadable", signatures=len(signatures))
    ts = status.timestamp_validity
    anchor = ""
    path = getattr(status, "validation_path", None)
    if path is not None:
        try:
            anchor = path.trust_anchor.authority.name.human_friendly
        except AttributeError:  # pragma: no cover - depends on the path's anchor kind
            anchor = ""
    return SignatureReport(
        state="checked",
        signer=status.signing_cert.subject.human_friendly,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted) and bool(roots),
        trust_configured=bool(roots),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        changed_after_signing=status.coverage != SignatureCoverageLevel.ENTIRE_FILE,
        signed_at=status.signer_reported_dt,
        timestamped=ts is not None,
        timestamp_at=getattr(ts, "timestamp", None) if ts is not None else None,
        timestamp_ok=bool(ts is not None and ts.intact and ts.valid),
        trust_anchor=anchor,
        fingerprint_sha256=status.signing_cert.sha256.hex(),
        summary=status.pretty_print_details(),
        signatures=len(signatures),
    )


# --------------------------------------------------------------------------- demo PKI


def _name(common_name: str, organisation: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_test_pki(
    *,
    ca_name: str,
    signer_name: str,
    organisation: str,
    key_size: int = 2048,
    signer_days: int = 825,
):
    """A root CA and a document-signing certificate issued by it (``cryptography`` objects).

    Returns ``(ca_key, ca_cert, signer_key, signer_cert)``. Used by ``seed_demo`` and tests.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    now = datetime.now(tz=UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    ca_subject = _name(ca_name, organisation)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(signer_name, organisation))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=signer_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_cert, key, cert


def write_signing_files(directory: Path, *, ca_cert, signer_key, signer_cert, passphrase: bytes) -> dict[str, Path]:
    """Write ``signer.p12`` (key, certificate and CA, encrypted with ``passphrase``),
    ``signer.passphrase`` and ``ca.pem`` into ``directory`` (owner-only permissions)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    p12 = pkcs12.serialize_key_and_certificates(
        b"award-notice-signer", signer_key, signer_cert, [ca_cert], serialization.BestAvailableEncryption(passphrase)
    )
    paths = {
        "key_file": directory / "signer.p12",
        "passphrase_file": directory / "signer.passphrase",
        "trust_roots": directory / "ca.pem",
        "certificate": directory / "signer.pem",
    }
    for name, content in (
        ("key_file", p12),
        ("passphrase_file", passphrase + b"\n"),
        ("trust_roots", ca_cert.public_bytes(serialization.Encoding.PEM)),
        ("certificate", signer_cert.public_bytes(serialization.Encoding.PEM)),
    ):
        temporary = paths[name].with_suffix(paths[name].suffix + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, paths[name])
    return paths


def demo_signing_dir() -> Path:
    return Path(getattr(settings, "NOTICE_SIGNING_DEMO_DIR", settings.BASE_DIR / "var" / "signing"))


def demo_pki_ensure() -> dict:
    """Create the demo CA and signing certificate once (``seed_demo``), outside the database
    and the repository (``var/signing/``, ignored by git). Both subjects say DEMO.

    Returns what may be printed: paths and the certificate's subject, never the passphrase.
    """
    import secrets

    directory = demo_signing_dir()
    key_file = directory / "signer.p12"
    configured = signing_config().key_file
    if configured and Path(configured).resolve() != key_file.resolve():
        return {"created": False, "directory": "", "subject": "", "configured_key_file": configured}
    created = False
    if not key_file.exists():
        _, ca_cert, key, cert = make_test_pki(
            ca_name=f"{DEMO_MARK} IAFM Portal Root CA (not for real use)",
            signer_name=f"{DEMO_MARK} Award Notice Signing (not for real use)",
            organisation=f"{DEMO_MARK} 과학기술정보통신부 (fictional)",
        )
        write_signing_files(
            directory, ca_cert=ca_cert, signer_key=key, signer_cert=cert, passphrase=secrets.token_urlsafe(24).encode()
        )
        created = True
    from pyhanko.keys import load_cert_from_pemder

    cert = load_cert_from_pemder(str(directory / "signer.pem"))
    return {
        "created": created,
        "directory": str(directory),
        "key_file": str(key_file),
        "passphrase_file": str(directory / "signer.passphrase"),
        "trust_roots": str(directory / "ca.pem"),
        "subject": cert.subject.human_friendly,
    }
