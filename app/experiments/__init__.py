"""A/B experiments: definitions and their lifecycle, the levers a variant pulls in a
render, exposure and attribution records, and results.

    definition.py  what a merchant writes (checked, with JSON paths) and its phases
    levers.py      what an assigned variant changes in one page view (pure)
    results.py     per-visitor records -> the samples the statistics read (pure)

Assignment itself (hashing, namespaces, holdout) is in :mod:`app.core.assignment`; the
statistics in :mod:`app.core.experiment_stats`; Redis at the edge in
:mod:`app.store.experiments`.
"""
