"""Hostile input files built inside the tests: small on disk, never inflated in the test's memory."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import openpyxl

MIB = 1 << 20
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def workbook(path: Path, header: Sequence[object], rows: Sequence[Sequence[object]]) -> Path:
    """A well-formed XLSX written by openpyxl, to be tampered with."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for values in rows:
        sheet.append(list(values))
    book.save(path)
    return path


def replace_parts(path: Path, parts: Mapping[str, bytes]) -> Path:
    """Rewrite the workbook at ``path`` with ``parts`` replaced (or added); the rest copied as is."""
    with zipfile.ZipFile(path) as old:
        kept = [(info, old.read(info)) for info in old.infolist() if info.filename not in parts]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in kept:
            new.writestr(info, data)
        for name, data in parts.items():
            new.writestr(name, data)
    return path


def add_zero_part(path: Path, name: str, size: int) -> Path:
    """Replace part ``name`` by ``size`` zero bytes, deflated while streamed (a few hundred KB on disk)."""
    with zipfile.ZipFile(path) as old:
        kept = [(info, old.read(info)) for info in old.infolist() if info.filename != name]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as new:
        for info, data in kept:
            new.writestr(info, data)
        chunk = bytes(MIB)
        with new.open(name, "w", force_zip64=True) as part:
            for _ in range(size // MIB):
                part.write(chunk)
            part.write(bytes(size % MIB))
    return path


def understate_size(path: Path, name: str, declared: int) -> Path:
    """Patch the local and central headers of part ``name`` to declare ``declared`` bytes unpacked."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    # Local file header: signature, ..., uncompressed size at offset 22.
    assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    # Central directory entry: uncompressed size at offset 24, the name at offset 46.
    start = 0
    encoded = name.encode()
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46:start + 46 + length]) == encoded:
            struct.pack_into("<I", data, start + 24, declared)
            break
        start += 4
    else:
        raise AssertionError(f"{name} not in the central directory")
    path.write_bytes(bytes(data))
    return path


def sheet_xml(rows: str) -> bytes:
    """A worksheet part holding ``rows`` (``<row>`` elements, inline strings) and nothing else."""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_MAIN}"><sheetData>{rows}</sheetData></worksheet>').encode()


def inline_row(number: int, values: Sequence[str]) -> str:
    """One ``<row>`` of inline-string cells starting at column A."""
    cells = "".join(f'<c r="{_column(i + 1)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(values) if v != "")
    return f'<row r="{number}">{cells}</row>'


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


#: Parts with a DTD: an external entity (XXE) and nested entity expansion ("billion laughs").
XXE = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<sst xmlns="' + _MAIN.encode() + b'" count="1" uniqueCount="1"><si><t>&xxe;</t></si></sst>')
LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
                     for i in range(1, 10))
          + b']><sst xmlns="' + _MAIN.encode() + b'"><si><t>&lol9;</t></si></sst>')
