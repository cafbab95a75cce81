"""The library an evaluation searches: never the voices it scores, only the training split."""

from __future__ import annotations

import argparse

from bridge.commands.search_options import add_budget_options, add_library_options, budget_text, search_library
from models.corpus import SplitSpec, split_of
from models.params import NAME_START


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_budget_options(parser)
    add_library_options(parser)
    return parser.parse_args(argv)


def test_an_evaluation_searches_the_training_split_without_the_voices_it_scores() -> None:
    everything, described = search_library(_args())
    assert everything is not None and described == f"library: {len(everything)} voices"
    scored = [voice for voice in everything.voices[:400]
              if split_of(voice.vced[:NAME_START], SplitSpec()) == "train"][:5]  # even training voices, when scored
    kept, described = search_library(_args(), scored=scored)
    assert kept is not None and len(kept) == 21_589 - len(scored)
    assert described == f"library: training split only, {len(kept)} of {len(everything)} voices (validation and " \
                        "test voices and the scored voices left out)"
    assert {split_of(voice.vced[:NAME_START], SplitSpec()) for voice in kept.voices} == {"train"}
    assert not {voice.values[:NAME_START] for voice in scored} & {voice.values[:NAME_START] for voice in kept.voices}


def test_budgets_are_renders_with_an_optional_time_cap() -> None:
    assert budget_text(_args()) == "search 500 renders"
    assert budget_text(_args("--max-renders", "40", "--search-ms", "1500")) == "search 40 renders or 1500 ms"
