"""Reports that combine analysis and figures into files a person opens: ``seqlm inspect``
(:mod:`seqlm.report.inspect`, its page :mod:`seqlm.report.inspect_html`)."""
