"""Claims of the text are checked against the results, and seeds come from one place.

The last test builds a one-chapter book whose chapter makes a false claim, through the
same plugin and hook as the real build, and checks that the build fails naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mini_book import build_mini_book

from ebm_book import claims, display, seeds

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_a_claim_that_holds_is_silent():
    claims.claim("one is less than two", 1 < 2, left=1, right=2)
    claims.claim("a one-element tensor can be the condition", torch.tensor(True))


def test_a_false_claim_names_itself_and_its_numbers():
    with pytest.raises(claims.ClaimError) as error:
        claims.claim("the ratio is below 1.5", 1.7312 < 1.5, ratio=1.7312, n=4000)
    message = str(error.value)
    assert "'the ratio is below 1.5'" in message
    assert "ratio = 1.731" in message and "n = 4000" in message


def test_a_claim_error_is_an_assertion_error():
    assert issubclass(claims.ClaimError, AssertionError)


def test_claims_are_logged_instead_of_raised_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(claims.CLAIMS_LOG_VARIABLE, str(log))
    claims.claim("holds", True, value=torch.tensor(0.25))
    claims.claim("fails", False, value=2.0)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records == [
        {"claim": "holds", "held": True, "evidence": {"value": "0.25"}},
        {"claim": "fails", "held": False, "evidence": {"value": "2"}},
    ]


def test_a_claim_needs_a_statement():
    with pytest.raises(ValueError, match="statement"):
        claims.claim("  ", True)


def test_seeds_are_the_plain_numbers_by_default(monkeypatch):
    monkeypatch.delenv(seeds.SEED_SHIFT_VARIABLE, raising=False)
    assert seeds.seed(0) == 0 and seeds.seed(999) == 999
    assert seeds.generator(5).initial_seed() == 5


def test_a_seed_shift_moves_every_seed(monkeypatch):
    monkeypatch.setenv(seeds.SEED_SHIFT_VARIABLE, "3")
    assert seeds.seed(7) == 3007
    assert seeds.generator(7).initial_seed() == 3007
    seeds.manual_seed(7)
    assert torch.initial_seed() == 3007
    shifted = torch.randn(4, generator=seeds.generator(7))
    monkeypatch.setenv(seeds.SEED_SHIFT_VARIABLE, "0")
    assert not torch.equal(shifted, torch.randn(4, generator=seeds.generator(7)))


@pytest.mark.parametrize("shift", ["two", "1.5"])
def test_a_bad_seed_shift_is_named(monkeypatch, shift):
    monkeypatch.setenv(seeds.SEED_SHIFT_VARIABLE, shift)
    with pytest.raises(ValueError, match="EBM_BOOK_SEED_SHIFT must be an integer"):
        seeds.seed(1)


@pytest.mark.parametrize(
    "n, error, message",
    [
        (-1, ValueError, r"n must be a non-negative integer; got -1"),
        (1000, ValueError, r"n must be an integer seed in \[0, 1000\); got 1000"),
        (True, ValueError, r"n must be a non-negative integer; got True"),
        (2.0, TypeError, r"n must be an integer; got the float 2.0"),
        ("3", TypeError, r"n must be a non-negative integer; got '3'"),
    ],
)
def test_seed_numbers_stay_below_the_stride(n, error, message):
    with pytest.raises(error, match=message):
        seeds.seed(n)


def test_prose_is_dedented_markdown():
    text = display.prose(
        """
        The distance is 0.091.

        A second paragraph.
        """
    ).data
    assert text == "The distance is 0.091.\n\nA second paragraph."
    with pytest.raises(TypeError, match="text must be a string"):
        display.prose(0.091)


FALSE_CLAIM_CHAPTER = """\
# %% [markdown]
# # A chapter that claims too much

# %%
from ebm_book import claims, seeds
import torch

mean = torch.randn(10_000, generator=seeds.generator(1)).mean().item()
claims.claim("the sample mean is above one", mean > 1.0, mean=mean)
"""


def test_a_false_claim_fails_the_build_naming_the_claim(tmp_path):
    """A one-chapter book built like the real one: the claim's text reaches the build log."""
    result = build_mini_book(tmp_path, FALSE_CLAIM_CHAPTER, "00_false_claim", book_plugin=True)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert (
        "chapters/00_false_claim.py: claim no longer holds: 'the sample mean is above one'"
        " (mean = " in log
    ), log
