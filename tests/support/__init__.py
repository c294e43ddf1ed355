"""Helpers for tests that drive real programs: Chromium (browser), nginx, the Nu Html Checker (vnu).

Import them as `support.<module>` (the tests folder is on `sys.path` while pytest runs).
`scripts/setup-tests` installs what they need.
"""
