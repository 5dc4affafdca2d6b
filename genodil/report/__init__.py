"""Human-facing reports: text, figures and the HTML run report built from the library's analyses.

``genodil.report.curves`` reads a run's logs across resumes and draws its learning curves;
``genodil.report.html`` writes the self-contained ``genodil report`` page;
``genodil.report.receptive`` formats the receptive-field analysis and draws its figure;
``genodil.report.demo`` draws the demo's summary figure.
"""

from __future__ import annotations

__all__ = ["curves", "demo", "html", "receptive"]
