"""String formats: email, uuid (Table Schema, Field Types: string ``format``), cpf and cnpj
(ours, checked with python-stdnum). Each parser trims the value itself (Unicode whitespace) and
returns the stored form, or raises ``Invalid`` with ``invalid_<format>``.

- email (issue 10's rule): Unicode NFC, trimmed with ``str.strip()`` (what Python calls
  whitespace: Unicode White_Space such as space, tab, CR, LF, NBSP, U+2003, U+3000, and also the
  information separators U+001C-U+001F), ``str.lower`` (not casefold), no IDNA; valid when it
  has exactly one ``@``, a non-empty local part, no whitespace, no control character (Cc) and
  no invisible format character (Cf: U+200B, U+FEFF, U+200D, U+00AD...) anywhere once trimmed
  (each would make a second key that looks the same), and a domain of at least two non-empty
  dot-separated labels (so a trailing dot is invalid: ``a@b.co.`` is refused rather than
  silently made a second key).
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
    if EMAIL_OK.fullmatch(email):
        return email
    fault = _email_fault(email)
    if fault is None:
        return email
    raise Invalid("invalid_email", fault)


def _email_fault(email: str) -> str | None:
    """Why a trimmed, lowercased address breaks issue 10's rule (a true detail), or None."""
    if not email:
        return "is empty"
    fault = _hidden_fault(email)
    if fault is None and email.count("@") != 1:
        fault = f"has {email.count('@')} '@' (exactly one is needed)"
    return fault or _parts_fault(*email.split("@"))


def _hidden_fault(email: str) -> str | None:
    """Whitespace or an invisible character inside the address."""
    for ch in email:
        if ch.isspace():
            return f"contains whitespace U+{ord(ch):04X}"
        category = unicodedata.category(ch)
        if category in _INVISIBLE:
            return f"contains {_INVISIBLE[category]} U+{ord(ch):04X}"
    return None


def _parts_fault(local: str, domain: str) -> str | None:
    """The local part and domain of an address with one '@'."""
    if not local:
        return "has an empty local part (before '@')"
    if not domain:
        return "has an empty domain (after '@')"
    labels = domain.split(".")
    if len(labels) < 2:
        return "has a domain without a dot (local@domain.tld is needed)"
    if not labels[-1]:
        return "ends its domain with a dot (RFC 5321 domains have none)"
    if not all(labels):
        return "has an empty label in its domain ('..' or a leading dot)"
    return None


# Characters that do not show: a control character (Cc: NUL-U+001F, DEL, C1) or a format
# character (Cf: zero-width space U+200B, joiners, BOM U+FEFF, bidi marks, soft hyphen...).
# Trimmed whitespace is removed first; inside an address, these would make a second key that
# looks the same.
_INVISIBLE: Final = {"Cc": "a control character", "Cf": "an invisible character"}


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
