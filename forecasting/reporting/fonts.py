"""A font with Chinese glyphs for every chart: deal and originator names are often Chinese.

matplotlib's default (DejaVu Sans) has no CJK glyphs and draws boxes with a warning per glyph. The first installed
font of CJK_FONTS goes first in the sans-serif list (DejaVu Sans stays as the fallback for Latin and symbols).
Install one with the system's packages: Debian/Ubuntu `apt-get install fonts-noto-cjk`, macOS and Windows ship
PingFang / Microsoft YaHei. Without one, charts still draw; Chinese names show as boxes.
"""
from __future__ import annotations

from functools import lru_cache

from matplotlib import font_manager, rcParams

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "PingFang SC", "Microsoft YaHei", "SimHei", "Heiti SC")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of the first installed CJK font, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def use_cjk_font() -> str | None:
    """Put the CJK font first for sans-serif text; returns its name (None: none installed)."""
    name = cjk_font()
    if name is not None:
        rcParams["font.family"] = "sans-serif"
        rcParams["font.sans-serif"] = [name] + [f for f in rcParams["font.sans-serif"] if f != name]
        rcParams["axes.unicode_minus"] = False
    return name
