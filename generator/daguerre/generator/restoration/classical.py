"""Weights-free restoration operators (OpenCV/NumPy), each on RGB uint8 arrays."""

from __future__ import annotations

import numpy as np


def estimate_noise(rgb: np.ndarray) -> float:
    """Noise sigma (grey levels) from the image itself (Immerkaer's fast Laplacian estimator).

    Computed on the flattest half of the image, where a Laplacian responds to noise, not edges.
    """
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    resp = np.abs(cv2.filter2D(gray, -1, kernel))[1:-1, 1:-1]
    grad = cv2.Sobel(gray, cv2.CV_64F, 1, 0) ** 2 + cv2.Sobel(gray, cv2.CV_64F, 0, 1) ** 2
    flat = grad[1:-1, 1:-1] <= np.percentile(grad[1:-1, 1:-1], 50)
    return float(np.sqrt(np.pi / 2) * resp[flat].mean() / 6.0)


def inpaint_opencv(rgb: np.ndarray, mask: np.ndarray, method: str = "telea", radius: int = 5) -> np.ndarray:
    """Fill the mask from its surroundings: Telea's fast marching or Navier-Stokes."""
    import cv2

    if not mask.any():
        return rgb.copy()
    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    return cv2.inpaint(np.ascontiguousarray(rgb), (mask > 0).astype(np.uint8) * 255, radius, flag)


def denoise(rgb: np.ndarray, strength: float = 1.0, method: str = "nlm", sigma: float | None = None) -> np.ndarray:
    """Remove grain and sensor noise; the filter strength follows the measured noise level.

    ``strength`` scales the filter relative to the estimated sigma (1.0 = matched to the noise).
    """
    import cv2

    sigma = estimate_noise(rgb) if sigma is None else sigma
    if sigma * strength < 0.5:
        return rgb.copy()
    if method == "nlm":
        h = float(max(1.0, strength * sigma))
        bgr = cv2.fastNlMeansDenoisingColored(
            np.ascontiguousarray(rgb[:, :, ::-1]), None, h, h, 5, 15
        )
        return bgr[:, :, ::-1].copy()
    if method == "bilateral":
        return cv2.bilateralFilter(rgb, 7, float(3 * sigma * strength), 5)
    raise ValueError(f"unknown denoise method {method!r}")


def restore_levels(
    rgb: np.ndarray, low: float = 0.5, high: float = 99.5, white_balance: str = "levels",
    ignore: np.ndarray | None = None, max_cast: float = 0.2,
) -> np.ndarray:
    """Undo fading: stretch levels and neutralise a colour cast.

    ``levels`` stretches each channel between its own ``low``/``high`` percentiles, which both restores
    contrast and removes a cast (the darkest and lightest tones become neutral, as on an unfaded
    print). A channel's black and white points may differ from the image's common ones by at most
    ``max_cast`` of the common range: a fade shifts the channels by that much or less, while a
    picture whose colour is its subject (a green field, a sunset, a white wall) has channels that
    never span the range, and stretching each one fully would turn it into another colour.
    ``gray_world`` stretches luminance only, then scales channels to a neutral mean.
    ``none`` stretches all channels together (contrast only). ``ignore`` excludes damaged pixels
    from the statistics.
    """
    import cv2

    img = rgb.astype(np.float32)
    # Tone statistics come from a median-filtered copy: specks and thin scratches that the detector
    # missed sit at the extremes and would otherwise set the black and white points.
    smooth = cv2.medianBlur(np.ascontiguousarray(rgb), 7).astype(np.float32)
    keep = ignore == 0 if ignore is not None else None
    sample = smooth[keep] if keep is not None and keep.any() else smooth.reshape(-1, 3)
    if white_balance == "levels":
        common_lo, common_hi = np.percentile(sample, [low, high])
        cast = max_cast * max(common_hi - common_lo, 1.0)
        lo = common_lo + np.clip(np.percentile(sample, low, axis=0) - common_lo, -cast, cast)
        hi = common_hi + np.clip(np.percentile(sample, high, axis=0) - common_hi, -cast, cast)
        out = (img - lo) / np.maximum(hi - lo, 1.0) * 255.0
    elif white_balance in ("none", "gray_world"):
        lo = np.percentile(sample, low)
        hi = np.percentile(sample, high)
        out = (img - lo) / max(hi - lo, 1.0) * 255.0
        if white_balance == "gray_world":
            s = (sample - lo) / max(hi - lo, 1.0) * 255.0
            means = s.mean(axis=0)
            out = out * (means.mean() / np.maximum(means, 1.0))
    else:
        raise ValueError(f"unknown white_balance {white_balance!r}")
    return np.clip(out, 0, 255).round().astype(np.uint8)


def upscale_lanczos(rgb: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LANCZOS4)
