"""The one Jinja2 environment of seqlm's pages: every template in ``templates/``
(``seqlm inspect``'s ``inspect.html.j2``, ``seqlm compare``'s ``compare_report.html.j2``
and ``compare_report.md.j2``) is rendered here.

HTML templates (``*.html.j2``) autoescape every value; Markdown templates write
values as they are. Block tags take their own line's newline with them
(``trim_blocks``/``lstrip_blocks``), so a template's text lines are its output's.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2  # comes with torch; imported on first use so the CLI starts fast

    return jinja2.Environment(loader=jinja2.PackageLoader("seqlm.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html.j2"], default=False),
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_template(name: str, **context) -> str:
    """``templates/<name>`` rendered with ``context``."""
    return _environment().get_template(name).render(**context)
