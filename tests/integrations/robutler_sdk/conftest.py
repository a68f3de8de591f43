"""SDK-importing modules here stay out of collection (--doctest-modules imports every module).

The SDK reconfigures a dozen stdlib loggers on import; the tests that need it in
process run ``sdk_instrument_checks.py`` in a fresh interpreter (``--noconftest``).
"""

collect_ignore = ["sdk_agent.py", "sdk_instrument_checks.py"]
