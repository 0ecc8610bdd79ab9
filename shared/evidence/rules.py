"""What an evidence file may be: the allow-list of types, checked against the
bytes, and the rules that make an uploaded file name safe to store and show.

Pure functions (``filetype`` reads magic numbers, nothing else), so the rules
are unit-tested apart from HTTP and storage.

Why the bytes decide: the type a client declares is whatever its extension
table says (curl sends ``application/pdf`` for ``x.pdf`` whatever x.pdf holds),
and a file served back under a type its bytes are not is how stored files turn
into scripts in someone's browser. So the bytes are sniffed, a declared type
that disagrees with them is refused (415, naming both), and the type stored
and served is the one the bytes showed.
"""

import re
import unicodedata

import filetype  # type: ignore[import-untyped]

from shared.errors import Invalid, UnsupportedType

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
GIF = "image/gif"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
TEXT = "text/plain"
CSV = "text/csv"

# Binary formats, each recognised by its magic numbers (filetype's matchers).
BINARY_TYPES = (PDF, PNG, JPEG, WEBP, GIF, DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS, PPT)
# Text has no magic number: UTF-8 without NUL is text, whichever of the two it says it is.
TEXT_TYPES = (TEXT, CSV)
ALLOWED_TYPES = BINARY_TYPES + TEXT_TYPES

# What clients send for "I don't know": the bytes alone decide.
UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream",
                        "application/unknown"})
# Other names clients use for the same types.
ALIASES = {"image/jpg": JPEG, "image/pjpeg": JPEG, "application/x-pdf": PDF,
           "application/csv": CSV, "text/x-csv": CSV, "text/comma-separated-values": CSV}

# How far into a file the matchers look (filetype reads the first 8 KiB too).
SNIFF_BYTES = 8192
MAX_FILENAME_CHARS = 255
FALLBACK_FILENAME = "evidence"

# Problem type of a refused evidence type: clients (and the fuzz test) tell it apart.
TYPE_REFUSED = "urn:capaflow:problem:evidence-type-refused"


def _refuse(reason: str, *, declared: str | None = None, detected: str | None = None
            ) -> UnsupportedType:
    return UnsupportedType(
        f"{reason} Accepted: PDF, PNG, JPEG, WebP, GIF, Word, Excel, PowerPoint, "
        "OpenDocument, and UTF-8 text or CSV.", title="Evidence type refused",
        type_uri=TYPE_REFUSED, declared_type=declared, detected_type=detected,
        accepted_types=list(ALLOWED_TYPES))


def normalise_declared(declared: str | None) -> str:
    """``"Image/JPG; q=1"`` -> ``"image/jpeg"``; "" when nothing (useful) was declared."""
    bare = (declared or "").split(";", 1)[0].strip().lower()
    bare = ALIASES.get(bare, bare)
    return "" if bare in UNDECLARED else bare


def _is_utf8_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def evidence_type(content: bytes, *, declared: str | None, filename: str) -> str:
    """The content type to store and serve for ``content``, or a refusal.

    Empty content is a 422 (Invalid); a type outside the allow-list, bytes that
    are none of them, or a declared type the bytes contradict are a 415 that
    says which.
    """
    if not content:
        raise Invalid("The file is empty; attach the file that shows the evidence.",
                      [("file", "The file has no content.")])
    claimed = normalise_declared(declared)
    if claimed and claimed not in ALLOWED_TYPES:
        raise _refuse(f"Files of type {claimed} are not accepted as evidence.",
                      declared=claimed)
    detected: str | None = filetype.guess_mime(content[:SNIFF_BYTES])
    if detected is not None:
        if detected not in BINARY_TYPES:
            raise _refuse(f"The file's content is {detected}, which is not accepted as "
                          "evidence.", declared=claimed or None, detected=detected)
        if claimed and claimed != detected:
            raise _refuse(f"The file was sent as {claimed} but its content is {detected}.",
                          declared=claimed, detected=detected)
        return detected
    if not _is_utf8_text(content):
        raise _refuse("The file's content is none of the accepted formats, nor UTF-8 text "
                      "without NUL characters.", declared=claimed or None)
    if claimed in TEXT_TYPES:
        return claimed
    if claimed == XLS and filename.lower().endswith(".csv"):
        # Browsers on Windows send a .csv file as Excel's type; its bytes are text.
        return CSV
    if claimed:
        raise _refuse(f"The file was sent as {claimed} but its content is plain text.",
                      declared=claimed, detected=TEXT)
    return CSV if filename.lower().endswith(".csv") else TEXT


def served_type(content_type: str) -> str:
    """The Content-Type header of a stored type (text is always UTF-8 here)."""
    return f"{content_type}; charset=utf-8" if content_type in TEXT_TYPES else content_type


# Categories no file name needs: controls (Cc), format characters such as the
# bidi overrides and zero-width joiners (Cf), surrogates (Cs), private use (Co)
# and unassigned code points (Cn).
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Characters Windows refuses in names; a downloaded file must save anywhere.
_RESERVED_CHARS = re.compile(r'[<>:"|?*]')
# Names Windows reserves for devices, with or without an extension.
_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def clean_filename(raw: str) -> str:
    """A file name safe to store, list and offer for download.

    NFKC first, so look-alikes (a fullwidth solidus) become what they look
    like and are handled as such; then only the last path component is kept;
    invisible and control characters go, other blanks become one space;
    characters Windows refuses become "_"; leading dots (".." and hidden
    files) and trailing dots and blanks go; at most 255 characters, keeping
    the extension. Nothing left gives "evidence".
    """
    name = unicodedata.normalize("NFKC", raw)
    name = re.split(r"[/\\]", name)[-1]
    kept = []
    for ch in name:
        category = unicodedata.category(ch)
        if category.startswith("Z") or ch.isspace():
            kept.append(" ")  # tabs, line breaks, no-break and other spaces
        elif category not in _DROPPED:
            kept.append(ch)
    name = re.sub(r" +", " ", "".join(kept))
    name = _RESERVED_CHARS.sub("_", name).strip(" .")
    if _DEVICE.match(name):
        name = f"_{name}"
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            name = stem[:MAX_FILENAME_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    return name or FALLBACK_FILENAME
