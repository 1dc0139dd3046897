"""Reading image files robustly: every way a file can be bad becomes a reason.

Runs in import worker processes: Pillow and numpy only.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageFile, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
EXIF_ORIENTATION = 0x0112
SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # transposed or turned a quarter: width and height swap
MAX_PIXELS = 256_000_000  # 16k x 16k; beyond this decoding one image needs gigabytes
THUMBNAIL_SIZE = 160
ImageFile.LOAD_TRUNCATED_IMAGES = False
PILImage.MAX_IMAGE_PIXELS = None  # our own limit below gives the clearer message


class UnreadableImageError(Exception):
    """A file that cannot be used as an image; the message says why in words."""


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image normalised to 8-bit for display, with what the file holds."""

    pixels: np.ndarray  # uint8 (H, W) or (H, W, 3)
    width: int
    height: int
    channels: int
    bit_depth: int
    mode: str


def content_hash(data: bytes) -> str:
    """The content hash that de-duplicates images (BLAKE2b, 128 bits, hex)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def load_image(data: bytes, *, draft: tuple[int, int] | None = None) -> PILImage.Image:
    """Opens and fully decodes image bytes with Pillow, turning every way a file can be
    bad into an :class:`UnreadableImageError` with the reason in words.

    ``draft`` (width, height): a JPEG may be decoded at 1/2, 1/4 or 1/8 scale, the
    smallest that is still at least this size (Pillow's draft mode, libjpeg's DCT
    scaling: much less work than decoding every pixel); other formats ignore it.
    """
    if not data:
        raise UnreadableImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = PILImage.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UnreadableImageError(
                    f"too large: {width}x{height} = {width * height / 1e6:.0f} Mpx"
                    f" (limit {MAX_PIXELS / 1e6:.0f} Mpx); tile it first"
                )
            if width == 0 or height == 0:
                raise UnreadableImageError(f"image has no pixels ({width}x{height})")
            if draft is not None and image.format == "JPEG":
                image.draft(None, (max(1, draft[0]), max(1, draft[1])))
            image.load()
            if _orientation(image) != 1:  # a camera's rotation: the pixels as every viewer shows them
                image = ImageOps.exif_transpose(image)
            return image
    except UnreadableImageError:
        raise
    except UnidentifiedImageError:
        raise UnreadableImageError("not an image file Pillow can read (unknown or corrupt header)") from None
    except OSError as exc:
        kind = "truncated file" if "truncated" in str(exc) else "corrupt image data"
        raise UnreadableImageError(f"{kind}: {exc}") from None
    except (ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise UnreadableImageError(f"corrupt image data: {type(exc).__name__}: {exc}") from None


def decode(data: bytes, *, name: str = "image") -> DecodedImage:
    """Decodes image bytes completely (so truncation is caught) into 8-bit pixels.

    16-bit and float images are windowed to 8 bits between their 0.5 and 99.5
    percentiles; palette and alpha images are converted to RGB or gray.

    Raises:
        UnreadableImageError: empty, not an image, truncated, corrupt, or too large.
    """
    image = load_image(data)
    width, height, mode = image.width, image.height, image.mode
    pixels, channels, bit_depth = _to_8bit(image)
    return DecodedImage(pixels=pixels, width=width, height=height, channels=channels,
                        bit_depth=bit_depth, mode=mode)


def _to_8bit(image: PILImage.Image) -> tuple[np.ndarray, int, int]:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image)
        bit_depth = 32 if mode in ("I", "F") and array.max(initial=0) > 65535 else 16
        return window_to_8bit(array), 1, bit_depth
    if mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGB" if mode == "RGBA" else "L")
        mode = image.mode
    if mode in ("1", "L"):
        return np.asarray(image if mode == "L" else image.convert("L")), 1, 8
    if mode == "RGB":
        return np.asarray(image), 3, 8
    return np.asarray(image.convert("RGB")), 3, 8


def window_to_8bit(array: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> np.ndarray:
    """Maps a high-bit-depth array to uint8 between two percentiles."""
    array = array.astype(np.float32)
    sample = array[:: max(1, array.shape[0] // 512), :: max(1, array.shape[1] // 512)]
    low, high = np.percentile(sample, [low_pct, high_pct])
    if high <= low:
        high = low + 1.0
    return np.clip((array - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def is_gray(pixels: np.ndarray, tolerance: int = 6) -> bool:
    """Whether an 8-bit image is gray in substance (RGB files of gray surfaces are common)."""
    if pixels.ndim == 2:
        return True
    small = pixels[:: max(1, pixels.shape[0] // 128), :: max(1, pixels.shape[1] // 128)].astype(np.int16)
    return bool(np.abs(small[..., 0] - small[..., 1]).max() <= tolerance
                and np.abs(small[..., 1] - small[..., 2]).max() <= tolerance)


def thumbnail_jpeg(pixels: np.ndarray, size: int = THUMBNAIL_SIZE, *, gray: bool) -> tuple[bytes, int, int]:
    """A JPEG thumbnail whose longer side is ``size`` (never enlarged)."""
    image = PILImage.fromarray(pixels)
    if gray and image.mode != "L":
        image = image.convert("L")
    image.thumbnail((size, size), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue(), image.width, image.height


def read_binary_mask(path: Path, *, width: int, height: int) -> np.ndarray:
    """Reads a mask file as bool (H, W): foreground is above half the value range
    (>127 for 8-bit, >32767 for 16-bit); a palette or 1-bit mask's non-zero indices.

    Raises:
        UnreadableImageError: unreadable, or not the image's size.
    """
    decoded_mode, array = _read_mask_array(path)
    if array.shape[:2] != (height, width):
        raise UnreadableImageError(
            f"mask is {array.shape[1]}x{array.shape[0]}, image is {width}x{height}"
        )
    if decoded_mode in ("P", "1"):
        return array != 0
    if array.ndim == 3:
        array = array[..., :3].max(axis=2)
    if decoded_mode.startswith("I;16") or (decoded_mode == "I" and array.max(initial=0) > 255):
        return array > 32767
    if decoded_mode == "F":
        return array > 0.5
    return array > 127


def _read_mask_array(path: Path) -> tuple[str, np.ndarray]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with PILImage.open(path) as image:
                image.load()
                return image.mode, np.asarray(image)
    except FileNotFoundError:
        raise UnreadableImageError(f"mask file missing: {path}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnreadableImageError(f"unreadable mask {path.name}: {exc}") from None


# -- raw samples for display windowing ------------------------------------------------------------
HIGH_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


@dataclass(frozen=True)
class RawImage:
    """A decoded image with its samples as stored, for display with an adjustable window.

    ``pixels`` is uint8 (H, W) or (H, W, 3) for 8-bit files (as :func:`decode` gives
    them), and uint16 or float32 (H, W) for high-bit-depth gray files. ``width`` and
    ``height`` are the file's; ``pixels`` holds the image reduced ``reduced`` times
    (1, or 2, 4, 8 for a JPEG decoded small: ``ceil(height / reduced)`` rows).
    """

    pixels: np.ndarray
    width: int
    height: int
    channels: int
    bit_depth: int
    mode: str
    reduced: int = 1

    @property
    def high_depth(self) -> bool:
        return self.pixels.dtype != np.uint8


def decode_raw(data: bytes, *, name: str = "image", reduce: Callable[[int, int], int] | None = None) -> RawImage:
    """Decodes image bytes like :func:`decode`, but keeps the values of 16-bit, 32-bit
    integer and float images instead of windowing them to 8 bits.

    Args:
        data: The file's bytes.
        name: The file's name, for messages.
        reduce: Given the image's (width, height), the factor (1, 2, 4 or 8) by which a
            JPEG may be decoded smaller (see :func:`load_image`); other files are always
            decoded whole. ``RawImage.reduced`` says what was applied.

    Raises:
        UnreadableImageError: empty, not an image, truncated, corrupt, or too large.
    """
    mode, size, swapped = _header(data)
    if mode not in HIGH_DEPTH_MODES:
        draft = None
        if reduce is not None and size is not None and (factor := reduce(*size)) > 1:
            draft = (size[0] // factor, size[1] // factor)
            if swapped:  # Pillow's draft is in the file's own orientation
                draft = (draft[1], draft[0])
        image = load_image(data, draft=draft)
        width, height = size if draft is not None else image.size
        pixels, channels, bit_depth = _to_8bit(image)
        return RawImage(pixels=pixels, width=width, height=height, channels=channels, bit_depth=bit_depth,
                        mode=image.mode, reduced=_reduction(width, image.width))
    image = load_image(data)
    array = np.asarray(image)
    if array.dtype.kind in "iu" and array.min(initial=0) >= 0 and array.max(initial=0) <= 65535:
        pixels, bit_depth = array.astype(np.uint16), 16
    else:
        pixels = array.astype(np.float32)
        bit_depth = 32 if image.mode in ("I", "F") else 16
    return RawImage(pixels=pixels, width=image.width, height=image.height, channels=1,
                    bit_depth=bit_depth, mode=image.mode)


def _reduction(full: int, decoded: int) -> int:
    """The factor f of 1, 2, 4, 8 with ``ceil(full / f) == decoded``."""
    return next((f for f in (1, 2, 4, 8) if -(-full // f) == decoded), 1)


def shown_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file as it is shown (its EXIF rotation applied), from
    its header. Raises OSError when the file cannot be read as an image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PILImage.open(path) as image:
            width, height = image.size
            return (height, width) if _orientation(image) in SWAPPING_ORIENTATIONS else (width, height)


def _orientation(image: PILImage.Image) -> int:
    """The EXIF orientation (1 to 8; 1: as stored) of an opened image."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block: the pixels as stored
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _header(data: bytes) -> tuple[str | None, tuple[int, int] | None, bool]:
    """The Pillow mode, the (width, height) the image is shown at (its EXIF rotation
    applied) and whether that rotation swaps width and height, from the file header
    alone; None when Pillow cannot tell."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = PILImage.open(io.BytesIO(data))
            width, height = image.size
            swapped = _orientation(image) in SWAPPING_ORIENTATIONS
            return image.mode, (height, width) if swapped else (width, height), swapped
    except Exception:  # any failure is reported by load_image() with its reason
        return None, None, False


def window_range(array: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[float, float]:
    """The display window of an "auto" contrast: two percentiles of a subsample."""
    sample = array[:: max(1, array.shape[0] // 512), :: max(1, array.shape[1] // 512)]
    low, high = (float(v) for v in np.percentile(sample, [low_pct, high_pct]))
    return (low, high) if high > low else (low, low + 1.0)


def apply_window(array: np.ndarray, low: float, high: float) -> np.ndarray:
    """Maps samples linearly to uint8, ``low`` to 0 and ``high`` to 255, clipped.

    uint8 and uint16 arrays go through a lookup table (one gather per pixel); float
    arrays are computed.
    """
    high = max(high, low + 1e-6)
    scale = 255.0 / (high - low)
    if array.dtype in (np.uint8, np.uint16):
        levels = np.arange(256 if array.dtype == np.uint8 else 65536, dtype=np.float32)
        lut = np.clip((levels - low) * scale + 0.5, 0, 255).astype(np.uint8)
        return lut[array]
    return np.clip((array.astype(np.float32) - low) * scale + 0.5, 0, 255).astype(np.uint8)
