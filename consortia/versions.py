"""One typed reader for a frozen application version (SPEC §4: reviews are bound to the version they score).

``ApplicationVersion.content`` is the JSON that ``consortia.services.version_content`` froze at
submission: the draft's fields under ``"fields"``, the requests and the consortium beside them,
and each attachment's digest under ``"attachments"``. Every place that shows or uses a version
(the reviewer's scoring page, the applicant's receipt, the officer's view, allocation inputs,
exports) reads it through :class:`VersionContent`, so none of them can reach for the live,
editable application by mistake. A field the version does not carry is reported as missing
(``VersionContent.missing``), never filled in from the draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consortia.rules_application import CONTENT_FIELDS, TEXT_FIELDS

# The fields every version since the first has frozen under "fields"; older or hand-made
# contents (benchmark data) may lack some of them, which is shown as "missing".
FIELD_NAMES = CONTENT_FIELDS


@dataclass(frozen=True)
class VersionAttachment:
    """An attachment as the version froze it: the file row's id and the SHA-256 it had."""

    id: int | None
    title: str
    original_name: str
    size: int | None
    pages: int | None
    sha256: str

    @property
    def name(self) -> str:
        return self.title or self.original_name


@dataclass(frozen=True)
class VersionMember:
    organisation_id: int | None
    name_ko: str
    name_en: str
    kind: str
    role: str
    is_gpu_supplier: bool


@dataclass(frozen=True)
class VersionContent:
    """The frozen fields of one submitted version, typed; nothing here comes from the draft."""

    application_id: int | None
    number: int | None
    receipt_number: str
    values: dict[str, Any]
    missing: frozenset[str]
    attachments: tuple[VersionAttachment, ...] = ()
    members: tuple[VersionMember, ...] = ()
    consortium_name: str = ""
    lead_organisation_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # The draft's fields, by name (empty when missing: see ``missing``).
    def get(self, name: str) -> Any:
        if name not in FIELD_NAMES:
            raise KeyError(name)
        return self.values.get(name, _empty(name))

    def __getattr__(self, name: str) -> Any:
        # Gives templates and callers ``c.title``, ``c.summary``, ``c.model_categories``...
        if name in FIELD_NAMES:
            return self.values.get(name, _empty(name))
        raise AttributeError(name)

    @property
    def text_fields(self) -> list[tuple[str, str, bool]]:
        """``(name, value, missing)`` for each text field except the title, in form order."""
        return [(name, self.values.get(name, ""), name in self.missing) for name in TEXT_FIELDS if name != "title"]

    @property
    def categories(self) -> list[str]:
        return list(self.values.get("model_categories") or [])

    @property
    def supplier_member(self) -> bool:
        return any(m.is_gpu_supplier for m in self.members)

    def attachment(self, attachment_id: int) -> VersionAttachment | None:
        for item in self.attachments:
            if item.id == attachment_id:
                return item
        return None

    @classmethod
    def from_content(cls, content: dict | None) -> VersionContent:
        content = content if isinstance(content, dict) else {}
        fields = content.get("fields") if isinstance(content.get("fields"), dict) else {}
        values: dict[str, Any] = {}
        missing = set()
        for name in FIELD_NAMES:
            if name in fields:
                values[name] = fields[name]
            elif name in ("requested_gpus", "requested_budget") and name in content:
                values[name] = content[name]  # frozen beside the fields as well
            else:
                missing.add(name)
        consortium = content.get("consortium") if isinstance(content.get("consortium"), dict) else {}
        lead = consortium.get("lead_organisation") if isinstance(consortium.get("lead_organisation"), dict) else {}
        return cls(
            application_id=content.get("application_id"),
            number=content.get("version"),
            receipt_number=str(content.get("receipt_number") or ""),
            values=values,
            missing=frozenset(missing),
            attachments=tuple(
                VersionAttachment(
                    id=item.get("id"),
                    title=str(item.get("title") or ""),
                    original_name=str(item.get("original_name") or item.get("name") or ""),
                    size=item.get("size"),
                    pages=item.get("pages"),
                    sha256=str(item.get("sha256") or ""),
                )
                for item in content.get("attachments") or []
                if isinstance(item, dict)
            ),
            members=tuple(
                VersionMember(
                    organisation_id=m.get("organisation_id"),
                    name_ko=str(m.get("name_ko") or ""),
                    name_en=str(m.get("name_en") or ""),
                    kind=str(m.get("kind") or ""),
                    role=str(m.get("role") or ""),
                    is_gpu_supplier=bool(m.get("is_gpu_supplier")),
                )
                for m in consortium.get("members") or []
                if isinstance(m, dict)
            ),
            consortium_name=str(consortium.get("name") or ""),
            lead_organisation_name=str(lead.get("name_ko") or ""),
        )


def _empty(name: str) -> Any:
    if name in ("model_categories", "milestones"):
        return []
    if name in ("requested_gpus", "requested_budget"):
        return None
    return ""


def read_version(version) -> VersionContent:
    """The typed content of an ``ApplicationVersion`` (``None`` gives an empty, all-missing reader)."""
    return VersionContent.from_content(version.content if version is not None else None)
