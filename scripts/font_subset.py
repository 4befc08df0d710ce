"""Regenerate the Japanese font bundled for PDFs: static/fonts/BPNotoSansJP-{Regular,Bold}.otf.

A subset of Noto Sans CJK JP (SIL Open Font License 1.1, static/fonts/OFL.txt) with every character a Japanese
name, address or billing document needs: ASCII and Latin-1, JIS X 0208 (kana, JIS level 1 and 2 kanji, symbols,
full-width forms) and the Windows-31J (cp932) extensions (NEC and IBM kanji such as 髙 and 﨑, ①, №, ㈱),
half-width katakana, full-width forms, CJK punctuation (〜 〒 「」), and a few symbols (¥ – — … € ™).

The subset is renamed "BP Noto Sans JP" (PostScript name BPNotoSansJP-Regular) so that a PDF shows which font
it embeds: tests prove the text comes from the bundle, not from a system font.

    python scripts/font_subset.py [--source-dir /usr/share/fonts/opentype/noto]

needs fontTools (installed with WeasyPrint) and the Debian package fonts-noto-cjk (or the upstream .ttc files).
"""

import argparse
import pathlib
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "static" / "fonts"
FAMILY = "BP Noto Sans JP"
PS_FAMILY = "BPNotoSansJP"
WEIGHTS = ("Regular", "Bold")


def _double_byte(codec: str, leads, trails) -> set[int]:
    chars = set()
    for lead in leads:
        for trail in trails:
            try:
                text = bytes([lead, trail]).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                chars.add(ord(text))
    return chars


def codepoints() -> set[int]:
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x180))  # ASCII, Latin-1, Latin Extended-A
    chars |= _double_byte("euc_jp", range(0xA1, 0xFF), range(0xA1, 0xFF))  # JIS X 0208: level 1 + 2
    chars |= _double_byte("cp932", [*range(0x81, 0xA0), *range(0xE0, 0xFD)], range(0x40, 0xFD))  # + NEC/IBM
    chars |= set(range(0x3000, 0x3100))  # CJK symbols and punctuation, hiragana, katakana
    chars |= set(range(0x31F0, 0x3200))  # katakana phonetic extensions
    chars |= set(range(0xFF00, 0xFFF0))  # full-width forms, half-width katakana
    chars |= set(range(0x2010, 0x2070))  # general punctuation: – — ‘ ’ “ ” … ‰ ※
    chars |= set(range(0x2460, 0x24A0)) | set(range(0x3200, 0x3400))  # ① …, ㈱ ㍻ ㎡
    chars |= {0x20AC, 0x2122, 0x2116, 0x2190, 0x2191, 0x2192, 0x2193, 0x2212, 0x221E, 0x25A0, 0x25A1}
    chars |= {0x25B2, 0x25B3, 0x25BC, 0x25BD, 0x25C6, 0x25C7, 0x25CB, 0x25CE, 0x25CF, 0x2605, 0x2606}
    return chars


def _rename(font, weight: str) -> None:
    name = font["name"]
    full = f"{FAMILY} {weight}" if weight != "Regular" else FAMILY
    ps = f"{PS_FAMILY}-{weight}"
    for record in list(name.names):
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID in (2, 17):
            record.string = weight
        elif record.nameID == 3:
            record.string = f"{ps};subset of Noto Sans CJK JP"
        elif record.nameID == 4:
            record.string = full
        elif record.nameID == 6:
            record.string = ps
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps]
        top = cff.topDictIndex[0]
        top.FullName = full
        top.FamilyName = FAMILY


def build(source_dir: pathlib.Path) -> list[pathlib.Path]:
    wanted = codepoints()
    written = []
    for weight in WEIGHTS:
        collection = TTCollection(str(source_dir / f"NotoSansCJK-{weight}.ttc"))
        font = next(f for f in collection.fonts if f["name"].getDebugName(6) == f"NotoSansCJKjp-{weight}")
        cmap = font.getBestCmap()
        options = subset.Options()
        options.layout_features = [
            "ccmp",
            "kern",
            "liga",
        ]  # horizontal text only: no vertical or alternate forms
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        options.desubroutinize = False
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(c for c in wanted if c in cmap))
        subsetter.subset(font)
        _rename(font, weight)
        path = OUT_DIR / f"{PS_FAMILY}-{weight}.otf"
        font.save(str(path))
        written.append(path)
        print(
            f"{path.relative_to(ROOT)}: {len(font.getBestCmap())} characters, {path.stat().st_size:,} bytes"
        )
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", default="/usr/share/fonts/opentype/noto", type=pathlib.Path)
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    build(args.source_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
