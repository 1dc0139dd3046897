"""The files of ``hostile_files.py``: one maker per kind of hostile file.

Each maker writes one file (or a few linked ones) into a folder and returns what it
wrote as :class:`Made` entries: the path as bytes (names need not be UTF-8), the kind,
and what the import must do with it: ``import`` it (with the size every viewer shows
when ``size`` is given), ``refuse`` it with a reason, skip it as a ``duplicate``, or
leave it out without a word as a file that is not an image (``ignore``) or ``hidden``.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Made:
    path: bytes
    kind: str
    expect: str  # import | refuse | duplicate | ignore | hidden
    size: tuple[int, int] | None = None  # (width, height) as shown, for "import"


def _pixels(rng: random.Random, w: int, h: int, channels: int = 1, dtype=np.uint8, top: int = 255) -> np.ndarray:
    gen = np.random.default_rng(rng.randrange(1 << 30))
    shape = (h, w) if channels == 1 else (h, w, channels)
    return gen.integers(0, top, shape, dtype=dtype)


def _save(image: PILImage.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _write(folder: bytes, name: str | bytes, data: bytes) -> bytes:
    path = os.path.join(folder, name.encode() if isinstance(name, str) else name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _size(rng: random.Random) -> tuple[int, int]:
    return rng.randint(8, 96), rng.randint(8, 96)


def valid(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    w, h = _size(rng)
    data = _save(PILImage.fromarray(_pixels(rng, w, h)), "PNG")
    return [Made(_write(folder, f"valid-{k}.png", data), "valid PNG", "import", (w, h))]


def zero_bytes(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    name = f"zero-{k}{rng.choice(['.png', '.jpg', '.tif', '.bmp'])}"
    return [Made(_write(folder, name, b""), "zero bytes", "refuse")]


def truncated(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    w, h = rng.randint(32, 128), rng.randint(32, 128)
    fmt, suffix = rng.choice([("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("BMP", ".bmp")])
    data = _save(PILImage.fromarray(_pixels(rng, w, h, 3)), fmt)
    cut = rng.randint(1, len(data) - 64)  # the last bytes of a JPEG may be padding: cut well before
    return [Made(_write(folder, f"truncated-{k}{suffix}", data[:cut]), "truncated", "refuse")]


def random_bytes(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    suffix = rng.choice([".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"])
    data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
    return [Made(_write(folder, f"random-{k}{suffix}", data), "random bytes", "refuse")]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    """A small PNG of a huge image: 40k to 100k pixels a side (past the import's limit,
    refused from its header), or every third one 12k x 12k (144 Mpx, under the limit: it
    is decoded, a few hundred kB of file for 144 MB of pixels)."""
    side = 12_000 if k % 3 == 0 else rng.choice([40_000, 65_000, 100_000])
    row = b"\0" + b"\0" * side  # filter byte + one black gray row
    compressor = zlib.compressobj(9)
    rows = side if side == 12_000 else 64  # a refused one needs only the start of its data
    first = b"\0" + k.to_bytes(4, "big") * (side // 4)  # every bomb its own content
    body = compressor.compress(first) + b"".join(compressor.compress(row) for _ in range(rows - 1))
    body += compressor.flush()
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b""))
    if side == 12_000:
        return [Made(_write(folder, f"bomb-{k}.png", data), "decompression bomb, 144 Mpx", "import", (side, side))]
    return [Made(_write(folder, f"bomb-{k}.png", data), "decompression bomb", "refuse")]


def zero_size(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    """A PNG whose header says 0 pixels wide."""
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 16, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b""))
    return [Made(_write(folder, f"nopixels-{k}.png", data), "no pixels", "refuse")]


def odd_modes(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    """1-bit, CMYK, 16-bit, 32-bit, float, LA, RGBA, palette with transparency."""
    w, h = _size(rng)
    choice = k % 9
    if choice == 0:
        image, fmt, suffix, kind = PILImage.fromarray(_pixels(rng, w, h) > 127), "PNG", ".png", "1-bit"
    elif choice == 1:
        image, fmt, suffix, kind = PILImage.fromarray(_pixels(rng, w, h, 3)).convert("CMYK"), "JPEG", ".jpg", "CMYK"
    elif choice == 2:
        image, fmt, suffix, kind = PILImage.fromarray(_pixels(rng, w, h, 3)).convert("CMYK"), "TIFF", ".tif", "CMYK"
    elif choice == 3:
        image = PILImage.fromarray(_pixels(rng, w, h, dtype=np.uint16, top=65535))
        fmt, suffix, kind = "PNG", ".png", "16-bit"
    elif choice == 4:
        image = PILImage.fromarray(_pixels(rng, w, h, dtype=np.int32, top=1 << 30))
        fmt, suffix, kind = "TIFF", ".tif", "32-bit"
    elif choice == 5:
        image = PILImage.fromarray(_pixels(rng, w, h).astype(np.float32) / 7.0)
        fmt, suffix, kind = "TIFF", ".tiff", "float"
    elif choice == 6:
        image, fmt, suffix, kind = PILImage.fromarray(_pixels(rng, w, h, 2), "LA"), "PNG", ".png", "LA"
    elif choice == 7:
        image, fmt, suffix, kind = PILImage.fromarray(_pixels(rng, w, h, 4), "RGBA"), "PNG", ".png", "RGBA"
    else:
        image = PILImage.fromarray(_pixels(rng, w, h, 3)).convert("P", palette=PILImage.Palette.ADAPTIVE, colors=16)
        image.info["transparency"] = 3
        fmt, suffix, kind = "PNG", ".png", "palette + transparency"
    data = _save(image, fmt, **({"transparency": 3} if kind.startswith("palette") else {}))
    return [Made(_write(folder, f"mode-{k}{suffix}", data), kind, "import", (w, h))]


def exif_rotated(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    w, h = rng.randint(40, 120), rng.randint(20, 60)
    orientation = 2 + k % 7
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    data = _save(PILImage.fromarray(_pixels(rng, w, h, 3)), "JPEG", exif=exif.tobytes(), quality=90)
    shown = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return [Made(_write(folder, f"exif{orientation}-{k}.jpg", data), "EXIF-rotated JPEG", "import", shown)]


def multipage(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    w, h = _size(rng)
    pages = [PILImage.fromarray(_pixels(rng, w, h)) for _ in range(rng.randint(2, 5))]
    data = _save(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    return [Made(_write(folder, f"pages-{k}.tif", data), "multi-page TIFF", "import", (w, h))]


def animated(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    w, h = _size(rng)
    frames = [PILImage.fromarray(_pixels(rng, w, h)) for _ in range(3)]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0, duration=50)
    return [Made(_write(folder, f"anim-{k}.gif", data), "animated GIF (.gif)", "ignore"),
            Made(_write(folder, f"anim-gif-{k}.png", data), "animated GIF named .png", "import", (w, h))]


def links(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    a, b = os.path.join(folder, f"loop-a-{k}.png".encode()), os.path.join(folder, f"loop-b-{k}.png".encode())
    os.symlink(b, a)
    os.symlink(a, b)
    itself = os.path.join(folder, f"loop-self-{k}.png".encode())
    os.symlink(itself, itself)
    return [Made(path, "symlink loop", "refuse") for path in (a, b, itself)]


def unreadable(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    made = valid(folder, k, rng)[0]
    path = folder + f"/locked-{k}.png".encode()
    os.replace(made.path, path)
    os.chmod(path, 0)
    # as root permissions do not stop a read: the file is simply imported
    return [Made(path, "no read permission", "import" if AS_ROOT else "refuse", made.size)]


NAMES = ["日本語の画像", "صورة", "изображение", "emoji-🔧", "e\u0301-combining", "with space", "new\nline",
         "tab\there", "-leading-dash", "back\\slash", "quote'\"", "семь;comma,"]


def odd_names(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    w, h = _size(rng)
    data = _save(PILImage.fromarray(_pixels(rng, w, h)), "PNG")
    if k % 3 == 0:  # Latin-1 and Shift-JIS bytes: not UTF-8, refused by name
        raw = rng.choice([b"caf\xe9", b"\x93\xfa\x96\x7b", b"bad\xff\xfe"]) + f"-{k}.png".encode()
        return [Made(_write(folder, raw, data), "name not UTF-8", "refuse")]
    name = f"{NAMES[k % len(NAMES)]}-{k}.png"
    return [Made(_write(folder, name, data), "name in another script", "import", (w, h))]


def duplicate(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    data = _save(PILImage.fromarray(_pixels(rng, 16, 16)), "PNG")
    return [Made(_write(folder, f"dup-{k}-a.png", data), "valid PNG", "import", (16, 16)),
            Made(_write(folder, f"dup-{k}-b.png", data), "same content twice", "duplicate")]


def hidden(folder: bytes, k: int, rng: random.Random) -> list[Made]:
    return [Made(_write(folder, f".hidden-{k}.png", _save(PILImage.fromarray(_pixels(rng, 8, 8)), "PNG")),
                 "hidden name", "hidden")]


MAKERS: list[tuple[Callable[[bytes, int, random.Random], list[Made]], int]] = [
    (valid, 10), (zero_bytes, 6), (truncated, 10), (random_bytes, 10), (bomb, 3), (zero_size, 2), (odd_modes, 18),
    (exif_rotated, 8), (multipage, 5), (animated, 4), (links, 3), (unreadable, 3), (odd_names, 10), (duplicate, 4),
    (hidden, 2),
]


def make_folder(folder: bytes, n: int, seed: int = 0) -> list[Made]:
    """Writes about ``n`` hostile files into ``folder`` (in proportion to the weights above)."""
    rng = random.Random(seed)
    made: list[Made] = []
    k = 0
    while len(made) < n:
        for maker, weight in MAKERS:
            for _ in range(weight):
                if len(made) >= n:
                    return made
                made.extend(maker(folder, k, rng))
                k += 1
    return made
