"""The model's values as the build's story keeps them: pickled, and loaded back the same."""
from __future__ import annotations

import dataclasses
import gc
import inspect
import pickle

import pytest
from factories import story_site

from generator import model
from generator.model import built_by_fields
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
            built_by_fields(cls)


def _quick_classes() -> list[type]:
    from generator import parse, plan
    return [cls for module in (model, parse, plan) for cls in vars(module).values()
            if isinstance(cls, type) and "_Loader" in vars(cls)]


def test_making_a_value_takes_the_dataclass_parameters_and_gives_a_frozen_value():
    classes = _quick_classes()
    assert {model.Article, model.Site, model.When, PagePlan, Document} <= set(classes)
    for cls in classes:
        # (made by model._quick_init, not the dataclass's __init__ with a frozen store per field)
        assert cls.__init__.__globals__.get("loader") is cls._Loader, cls
        params = list(inspect.signature(cls).parameters.values())
        assert [p.name for p in params] == [f.name for f in dataclasses.fields(cls)], cls
        for p, f in zip(params, dataclasses.fields(cls), strict=True):
            if f.default is not dataclasses.MISSING:
                assert p.default == f.default, (cls, f.name)
            elif f.default_factory is dataclasses.MISSING:
                assert p.default is inspect.Parameter.empty, (cls, f.name)
    quote = model.Quote("ada", "We agree.", "a-briefing", "q-we-agree", True)
    assert type(quote) is model.Quote and (quote.date, quote.line, quote.span) == (None, 0, None)
    assert quote == model.Quote(actor="ada", text="We agree.", article="a-briefing", anchor="q-we-agree",
                                verified=True, date=None, line=0, span=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quote.text = "Changed."
    assert dataclasses.replace(quote, line=7).line == 7 and quote.line == 0
    with pytest.raises(TypeError):
        model.Quote("ada")        # missing arguments are still an error
    with pytest.raises(TypeError):
        model.When(model.dt.datetime(2025, 1, 1), nonsense=True)


def test_a_default_factory_makes_a_new_value_for_each_object():
    config = story_site().config
    first, second = (model.Site(config, (), {}, {}, {}, (), (), {}) for _ in range(2))
    assert first.by_slug == {} and first.by_slug is not second.by_slug
    assert first.members is not second.members
