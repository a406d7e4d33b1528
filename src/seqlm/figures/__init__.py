"""Figures 5.1–5.6: TikZ diagrams and matplotlib plots."""
