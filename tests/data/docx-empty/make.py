"""Generate the "no translatable text" Word fixtures in this folder.

Run from this folder:  python3 make.py

Writes three files made by python-docx itself:

- blank.docx         a new Document() saved as is (no paragraphs at all)
- only-table.docx    one table holding only numbers and dates
- only-picture.docx  one inline picture (a 4x4 red PNG built with zlib+struct)

Output is deterministic: the core properties come fixed from python-docx's
template, and the zip entries are rewritten with a fixed timestamp.
"""

import io
import os
import struct
import zipfile
import zlib

import docx
from docx.shared import Cm

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED_DATE = (2024, 1, 1, 0, 0, 0)


def png_rgb(width, height, rgb):
    """A minimal truecolour PNG of one colour, without PIL."""

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width  # filter type 0 + pixels
    raw = row * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def save(document, name):
    """Save, then rewrite the zip with fixed timestamps for stable bytes."""
    buf = io.BytesIO()
    document.save(buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(out.getvalue())


def make_blank():
    save(docx.Document(), "blank.docx")


def make_only_table():
    d = docx.Document()
    rows = [
        ["2011", "2022-09", "41", "12,5 %"],
        ["2012", "2022-10", "38", "11,9 %"],
        ["2013", "2023-01-15", "1 204", "0,7 %"],
        ["2014", "15/03/2023", "-3", "100 %"],
    ]
    table = d.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    save(d, "only-table.docx")


def make_only_picture():
    d = docx.Document()
    d.add_picture(io.BytesIO(png_rgb(4, 4, (255, 0, 0))), width=Cm(2))
    save(d, "only-picture.docx")


if __name__ == "__main__":
    make_blank()
    make_only_table()
    make_only_picture()
    for name in ("blank.docx", "only-table.docx", "only-picture.docx"):
        print(name, os.path.getsize(os.path.join(HERE, name)))
