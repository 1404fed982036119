"""The minimum mutation pass (tests/README.md) stays runnable: each mutant's code is still where it says, so a
refactor that moves the code also ports the mutant (tests/mutation_pass.py), instead of the pass quietly saying
"not applicable"."""

import os

import pytest

from tests.mutation_pass import MUTANTS, ROOT


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name.split(":")[0] for m in MUTANTS])
def test_each_mutant_still_finds_the_code_it_breaks(mutant):
    with open(os.path.join(ROOT, mutant.path), encoding="utf-8") as handle:
        source = handle.read()
    assert source.count(mutant.old) == 1, f"port this mutant to where its code lives now: {mutant.name}"
    for test in mutant.tests:
        file_name, _, name = test.partition("::")
        with open(os.path.join(ROOT, file_name), encoding="utf-8") as handle:
            assert f"def {name}(" in handle.read(), f"{test} (named by mutant {mutant.name!r}) does not exist"
