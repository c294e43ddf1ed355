"""The model's values as the build's story keeps them: pickled, and loaded back the same."""
from __future__ import annotations

import dataclasses
import gc
import pickle

import pytest
from factories import story_site

from generator import model
from generator.model import pickled_by_fields
from generator.parse import Document
from generator.plan import PagePlan, plan_site


def _reachable(root: object) -> list[object]:
    """Every dataclass instance reachable from `root` (containers followed, modules and types not)."""
    found, seen, stack = [], set(), [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, str, bytes, int, float)):
            continue
        seen.add(id(obj))
        if dataclasses.is_dataclass(obj):
            found.append(obj)
        stack.extend(gc.get_referents(obj))
    return found


def test_a_pickled_model_loads_as_the_same_frozen_values():
    site = story_site()
    plans = plan_site(site, per_page=site.config.per_page)
    before = _reachable((site, plans))
    assert {type(v) for v in before} >= {model.Article, model.Proposal, model.StanceHistory, model.When, PagePlan}

    loaded_site, loaded_plans = pickle.loads(pickle.dumps((site, plans), protocol=pickle.HIGHEST_PROTOCOL))

    assert loaded_site == site and loaded_plans == plans
    after = _reachable((loaded_site, loaded_plans))
    # the very classes (not the loaders the pickle names), every field as it was, still frozen
    assert sorted(type(v).__qualname__ for v in after) == sorted(type(v).__qualname__ for v in before)
    for value in after:
        assert type(value) in {type(v) for v in before}
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, None)
    assert hash(loaded_site.config) == hash(site.config)


def test_a_loaded_value_is_built_from_its_fields_without_the_frozen_init():
    # The point of the loader: loading does not run the dataclass's __init__ (whose
    # object.__setattr__ per field made the story slow to read), yet the result is a `When`.
    when = model.When(model.dt.datetime(2025, 8, 22, 9, 30), True)
    loader, values = when.__reduce__()
    assert loader is model.When._Loader and values == (when.at, True)
    made = loader(*values)
    assert type(made) is model.When and made == when and made.iso() == "2025-08-22T09:30:00"
    doc = Document("article", "content/articles/a.md", {"title": "A"}, body="Text.")
    assert pickle.loads(pickle.dumps(doc)) == doc


def test_only_a_frozen_slotted_dataclass_can_have_a_loader():
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        value: int

    @dataclasses.dataclass(slots=True)
    class Mutable:
        value: int

    for cls in (NoSlots, Mutable):
        with pytest.raises(TypeError, match="frozen dataclass with slots=True"):
            pickled_by_fields(cls)
