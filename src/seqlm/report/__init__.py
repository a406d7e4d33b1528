"""Reports that combine analysis and figures into files a person opens: ``seqlm inspect``
(:mod:`seqlm.report.inspect`, its page :mod:`seqlm.report.inspect_html`), and the one
Jinja2 environment every page is rendered with (:mod:`seqlm.report.render`, the
templates in ``templates/``; ``seqlm compare``'s report uses it too)."""
