"""String formats: email, uuid (Table Schema, Field Types: string ``format``), cpf and cnpj
(ours, checked with python-stdnum). Each parser trims the value itself (Unicode whitespace) and
returns the stored form, or raises ``Invalid`` with ``invalid_<format>``.

- email (issue 10's rule): Unicode NFC, trimmed of Unicode whitespace (NBSP included),
  ``str.lower`` (not casefold), no IDNA; valid when it has exactly one ``@``, a non-empty local
  part, no whitespace anywhere, and a domain of at least two non-empty dot-separated labels (so
  a trailing dot is invalid: ``a@b.co.`` is refused rather than silently made a second key).
- uuid: what Python's ``uuid.UUID`` reads (as frictionless does); stored as lowercase
  ``8-4-4-4-12``.
- cpf / cnpj: whatever ``stdnum.br.cpf`` / ``stdnum.br.cnpj`` ``validate`` accept (check
  digits; separators ``.``, ``-``, ``/`` and spaces; the alphanumeric CNPJ where the installed
  version has it), ASCII only; stored compact (digits, and upper-case letters for a CNPJ).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Final

from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import ValidationError

from libs.schema.types import Invalid, Parser

EMAIL_OK: Final = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
UUID_OK: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
                          r"-[0-9a-fA-F]{12}")
_CPF_OK: Final = re.compile(r"[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}")
_CNPJ_OK: Final = re.compile(r"[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}-?[0-9]{2}")
_CPF_SEPARATORS: Final = str.maketrans("", "", ".- ")
_CNPJ_SEPARATORS: Final = str.maketrans("", "", ".-/ ")


def parse_email(value: str) -> str:
    """The normalized address (see the module docstring), or Invalid ``invalid_email``."""
    text = value if value.isascii() else unicodedata.normalize("NFC", value)
    email = text.strip().lower()
    if EMAIL_OK.fullmatch(email) or _email_valid(email):
        return email
    raise Invalid("invalid_email", _email_problem(email))


def _email_valid(email: str) -> bool:
    if email.count("@") != 1 or any(ch.isspace() for ch in email):
        return False
    local, domain = email.split("@")
    labels = domain.split(".")
    return bool(local) and len(labels) >= 2 and all(labels)


def _email_problem(email: str) -> str:
    """Why ``email`` (normalized) is not an address; true for each case (issue 10)."""
    if not email:
        return "is empty"
    if any(ch.isspace() for ch in email):
        return "contains whitespace"
    if email.count("@") != 1:
        return f"has {email.count('@')} '@' (exactly one is needed)"
    local, domain = email.split("@")
    if not local:
        return "has an empty local part (before '@')"
    if not domain:
        return "has an empty domain (after '@')"
    if domain.endswith("."):
        return "ends its domain with a dot (RFC 5321 allows no trailing dot)"
    if "." not in domain:
        return "has no dot in its domain (local@domain.tld is needed)"
    return "has an empty label in its domain (a leading dot or two dots in a row)"


def parse_uuid(value: str) -> str:
    """What ``uuid.UUID`` reads (32 hex digits; hyphens, braces, ``urn:uuid:`` allowed), ASCII
    only; stored in the canonical lowercase 8-4-4-4-12 form."""
    text = value.strip()
    if _UUID.fullmatch(text) is not None:
        return text.lower()
    try:
        if text.isascii():
            return str(uuid.UUID(text))
    except ValueError:
        pass
    raise Invalid("invalid_uuid", "is not a UUID")


def parse_cpf(value: str) -> str:
    """A CPF with valid check digits, stored as its 11 digits."""
    text = value.strip()
    if not text.isascii():
        raise Invalid("invalid_cpf", "is not a valid CPF")
    if _CPF_OK.fullmatch(text) is not None and stdnum_cpf.is_valid(text):
        return text.translate(_CPF_SEPARATORS)
    try:
        return stdnum_cpf.validate(text)
    except ValidationError as exc:
        raise Invalid("invalid_cpf", f"is not a valid CPF ({exc})") from None


def parse_cnpj(value: str) -> str:
    """A CNPJ with valid check digits, stored as its 14 digits (and letters)."""
    text = value.strip()
    if not text.isascii():
        raise Invalid("invalid_cnpj", "is not a valid CNPJ")
    if _CNPJ_OK.fullmatch(text) is not None and stdnum_cnpj.is_valid(text):
        return text.translate(_CNPJ_SEPARATORS)
    try:
        return stdnum_cnpj.validate(text)
    except ValidationError as exc:
        raise Invalid("invalid_cnpj", f"is not a valid CNPJ ({exc})") from None


STRING_FORMATS: Final[dict[str, Parser]] = {
    "email": parse_email, "uuid": parse_uuid, "cpf": parse_cpf, "cnpj": parse_cnpj,
}
