"""Interlock's benchmark harness: ``python -m bench`` (full) or ``python -m bench --smoke`` (CI).

Not part of the installed package and not part of the test run; see ``docs/benchmarks.md``.
"""
