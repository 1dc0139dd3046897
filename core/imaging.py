"""Reading image files robustly: every way a file can be bad becomes a reason.

Runs in import worker processes: Pillow and numpy only.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageFile, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
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


def decode(data: bytes, *, name: str = "image") -> DecodedImage:
    """Decodes image bytes completely (so truncation is caught) into 8-bit pixels.

    16-bit and float images are windowed to 8 bits between their 0.5 and 99.5
    percentiles; palette and alpha images are converted to RGB or gray.

    Raises:
        UnreadableImageError: empty, not an image, truncated, corrupt, or too large.
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
            mode = image.mode
            image.load()
    except UnreadableImageError:
        raise
    except UnidentifiedImageError:
        raise UnreadableImageError("not an image file Pillow can read (unknown or corrupt header)") from None
    except OSError as exc:
        text = str(exc)
        if "truncated" in text:
            raise UnreadableImageError(f"truncated file: {text}") from None
        raise UnreadableImageError(f"corrupt image data: {text}") from None
    except (ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise UnreadableImageError(f"corrupt image data: {type(exc).__name__}: {exc}") from None
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
        return np.asarray(image.convert("L")), 1, 8
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
