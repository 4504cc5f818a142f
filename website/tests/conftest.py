"""The website's browser tests (`make test-site`), apart from the lesson tests: `make test` collects tests/ only,
and `make test-site` runs this folder with --confcutdir, so the lesson harness (../../conftest.py) is not loaded.

A skip here is a failure: a test that could not run has not shown that the site works.
"""
import pytest


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == pytest.ExitCode.OK:
        if reporter:
            reporter.ensure_newline()
            reporter.write_line(f"test-site: {skipped} test(s) skipped: a skip is a failure here", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
