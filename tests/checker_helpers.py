"""Helpers shared by the tests of the exercise checkers."""

import contextlib
import io
import re


def run_checker(check, answer):
    """Run a checker on ``answer``; return whether it passed and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        passed = check(answer)
    return passed, out.getvalue()


def assert_feedback(check, answer, message):
    """The checker passes ``answer`` when ``message`` is None, else fails with ``message`` (a regex)."""
    passed, out = run_checker(check, answer)
    assert passed == (message is None), out
    if message:
        assert re.search(message, out), out
