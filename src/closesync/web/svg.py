"""Vega-Lite specs rendered on the server to SVG that is safe to inline in a page.

Charts are drawn by vl-convert (the `charts` extra), never by hand and never by JavaScript from a CDN, so
they work offline and under the app's CSP. The SVG is inlined only after a check that it holds nothing
but shapes and text from an allow-list: no script, no event handler, no link, no style (the CSP would
refuse inline styles), no external reference. vl-convert escapes text itself (a dataset called
`<script>` is drawn as that text); the check makes sure of it rather than trusting it.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from typing import Any

from markupsafe import Markup

log = logging.getLogger("closesync.web")

_SVG_NS = "{http://www.w3.org/2000/svg}"
_TAGS = frozenset(
    {"svg", "g", "path", "rect", "line", "circle", "ellipse", "polygon", "polyline", "text", "tspan", "title",
     "desc", "defs", "clipPath", "linearGradient", "radialGradient", "stop"}
)
_ATTRIBUTES = frozenset(
    {"class", "role", "aria-label", "aria-hidden", "aria-roledescription", "aria-describedby", "id", "version",
     "width", "height", "viewBox", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry", "dx", "dy",
     "d", "points", "transform", "fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity",
     "stroke-dasharray", "stroke-dashoffset", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit",
     "opacity", "display", "visibility", "pointer-events", "clip-path", "font-family", "font-size",
     "font-style", "font-weight", "text-anchor", "dominant-baseline", "offset", "stop-color",
     "stop-opacity", "gradientUnits", "gradientTransform", "clipPathUnits", "shape-rendering"}
)
# A url() may only point into the same SVG (a clip path): never to a file or another site.
_URL = re.compile(r"url\((?!#[A-Za-z0-9_-]+\))", re.I)


def charts_available() -> bool:
    """Whether vl-convert is installed (`pip install 'closesync[charts]'`)."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


def check_svg(svg: str) -> str:
    """`svg` unchanged if every element and attribute is on the allow-lists; ValueError naming the first
    that is not (a chart that fails the check is not shown)."""
    if "<!" in svg or "<?" in svg:  # no DOCTYPE (entities), CDATA, comment or processing instruction
        raise ValueError("declaration in the SVG")
    root = ET.fromstring(svg)  # noqa: S314 - our renderer's output, and no DOCTYPE (checked above)
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag not in _TAGS:
            raise ValueError(f"element {tag!r}")
        for name, value in element.attrib.items():
            if name not in _ATTRIBUTES:
                raise ValueError(f"attribute {name!r} on {tag!r}")
            if _URL.search(value):
                raise ValueError(f"url() in {name!r}")
    return svg


def render_svg(spec: dict[str, Any]) -> Markup | None:
    """The chart as checked inline SVG; None when vl-convert is missing or its output fails the check
    (the page then shows its table and a notice instead)."""
    try:
        import vl_convert
    except ImportError:
        return None
    try:
        svg = check_svg(vl_convert.vegalite_to_svg(spec))
    except ValueError as exc:  # vl-convert's own errors are ValueErrors too
        log.warning("chart not shown: %s", exc)
        return None
    return Markup(svg)  # noqa: S704 - checked above against the allow-lists
