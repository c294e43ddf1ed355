"""Hand-built `Site` values for plan and render tests: no files, no parser, no resolver.

`story_site()` is a small story of three briefings in which a proposal moves from proposed to
under negotiation, an actor's stance changes, a new actor appears and a question is answered.
Its keyword arguments replace the strings a test wants to play with (e.g. hostile markup).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from generator.model import (
    Actor,
    Article,
    Changes,
    Event,
    Page,
    Position,
    Proposal,
    ProposalStatusChange,
    ProposalUpdate,
    Question,
    QuestionUpdate,
    Quote,
    Site,
    SiteConfig,
    Source,
    StanceChange,
    StanceHistory,
    StatusChange,
    When,
)
from generator.quotes import quote_anchor


def when(day: str, time: str = "") -> When:
    """When('2025-08-22') at midnight UTC, or with a time of day."""
    if time:
        return When(dt.datetime.fromisoformat(f"{day}T{time}+00:00"), has_time=True)
    return When(dt.datetime.fromisoformat(f"{day}T00:00:00+00:00"))


def quote(actor: str, text: str, article: str, day: str, verified: bool = True) -> Quote:
    return Quote(actor=actor, text=text, article=article, anchor=quote_anchor(text), verified=verified,
                 date=when(day))


def article(slug: str, day: str, title: str, body: str = "Text.", **fields) -> Article:
    """An article with empty annotations unless given."""
    values = dict(slug=slug, path=f"content/articles/{day}-{slug}.md", title=title, date=when(day),
                  updated=None, draft=False, summary="", why_it_matters="", source=Source(), tags=(),
                  body=body, body_line=10, actors=(), proposals=(), questions=(), quotes=(), events=(),
                  changes=Changes())
    values.update(fields)
    return Article(**values)


def site_of(articles: list[Article], actors: list[Actor], proposals: list[Proposal] = (),
            questions: list[Question] = (), pages: list[Page] = (), *, title: str = "Test Briefing",
            base_url: str = "https://example.org/", per_page: int = 10) -> Site:
    """A Site with its indexes computed from the articles, as resolve would."""
    articles = _linked(sorted(articles, key=lambda a: (a.date.at, a.slug)))
    by_slug = {a.slug: a for a in articles}
    tags: dict[str, list[str]] = {}
    actor_articles: dict[str, list[str]] = {}
    actor_quotes: dict[str, list[Quote]] = {}
    actor_events: dict[str, list[Event]] = {}
    actor_questions: dict[str, list[str]] = {}
    events: list[Event] = []
    for a in articles:
        for tag in a.tags:
            tags.setdefault(tag, []).append(a.slug)
        for who in a.actors:
            actor_articles.setdefault(who.id, []).append(a.slug)
        for q in a.quotes:
            actor_quotes.setdefault(q.actor, []).insert(0, q)
        for e in a.events:
            events.append(e)
            for who in e.actors:
                actor_events.setdefault(who, []).append(e)
    for q in questions:
        for who in q.raised_by:
            actor_questions.setdefault(who, []).append(q.id)
    members: dict[str, list[str]] = {}
    for who in actors:
        if who.affiliation:
            members.setdefault(who.affiliation, []).append(who.id)
    events.sort(key=lambda e: e.date.at)
    tup = lambda mapping: {k: tuple(v) for k, v in mapping.items()}  # noqa: E731
    return Site(
        config=SiteConfig(title=title, base_url=base_url, per_page=per_page,
                          description="A test site."),
        articles=tuple(articles), actors={a.id: a for a in actors},
        proposals={p.id: p for p in proposals}, questions={q.id: q for q in questions},
        events=tuple(events), pages=tuple(pages), tags=tup(tags), by_slug=by_slug,
        actor_articles=tup(actor_articles), actor_quotes=tup(actor_quotes),
        actor_events=tup(actor_events), actor_questions=tup(actor_questions), members=tup(members))


def _linked(articles: list[Article]) -> list[Article]:
    out = []
    for i, a in enumerate(articles):
        out.append(replace(a, previous=articles[i - 1].slug if i else "",
                           next=articles[i + 1].slug if i + 1 < len(articles) else ""))
    return out


def story_site(*, title: str = "Allies weigh security guarantees",
               rutte_name: str = "Mark Rutte",
               lavrov_quote: str = "No meeting is planned",
               base_url: str = "https://example.org/",
               draft_last: bool = False,
               per_page: int = 10) -> Site:
    """Three briefings of one story; see the module docstring."""
    nato = Actor(id="nato", name="NATO", kind="organization")
    rutte_then = Actor(id="mark-rutte", name=rutte_name, role="Prime Minister of the Netherlands",
                       aliases=("Rutte",))
    rutte = replace(rutte_then, role="NATO Secretary General", affiliation="nato")
    zelensky = Actor(id="volodymyr-zelensky", name="Volodymyr Zelensky", role="President of Ukraine",
                     aliases=("Zelensky",))
    lavrov = Actor(id="sergei-lavrov", name="Sergei Lavrov", role="Foreign Minister of Russia",
                   aliases=("Lavrov",))

    # 1: the proposal is made; Zelensky supports it, with a quote.
    q_zel = quote("volodymyr-zelensky", "These are security guarantees against an aggressor",
                  "summit", "2025-08-18")
    d1 = "2025-08-18"
    pos_zel = Position(actor="volodymyr-zelensky", stance="supports", article="summit", date=when(d1),
                       note="Wants guarantees before any ceasefire.", quote=q_zel)
    up1 = ProposalUpdate(proposal="security-guarantees", article="summit", date=when(d1),
                         title="Security guarantees for Ukraine", status="proposed",
                         summary="A two-part security pact.", proposed_by=("mark-rutte",),
                         positions=(pos_zel,))
    qu1 = QuestionUpdate(question="troop-contributors", article="summit", date=when(d1),
                         text="Who will contribute troops?", status="open", answer="", confidence="",
                         raised_by=("volodymyr-zelensky",))
    ev1 = Event(date=when("2025-08-17"), title="Washington summit", actors=("mark-rutte", "volodymyr-zelensky"),
                article="summit")
    a1 = article("summit", d1, "Leaders meet in Washington",
                 body=("Rutte met Zelensky in Washington. \u201cThese are security guarantees against an "
                       "aggressor,\u201d Zelensky said."),
                 summary="Security guarantees were put forward.", tags=("security-guarantees",),
                 actors=(rutte_then, zelensky), proposals=(up1,), questions=(qu1,), quotes=(q_zel,),
                 events=(ev1,),
                 changes=Changes(new_actors=("mark-rutte", "volodymyr-zelensky"),
                                 new_proposals=("security-guarantees",),
                                 stance_changes=(StanceChange("security-guarantees", "volodymyr-zelensky",
                                                              "", "supports"),),
                                 questions_opened=("troop-contributors",)))

    # 2: negotiations begin; Lavrov opposes; Rutte is now NATO's chief.
    d2 = "2025-08-22"
    q_lav = quote("sergei-lavrov", lavrov_quote, "rutte-in-kyiv", d2)
    q_rut = quote("mark-rutte", "it's too early to determine what the result will be", "rutte-in-kyiv", d2)
    pos_lav = Position(actor="sergei-lavrov", stance="opposes", article="rutte-in-kyiv", date=when(d2),
                       note="Not without Russia.", quote=q_lav)
    pos_rut = Position(actor="mark-rutte", stance="conditional", article="rutte-in-kyiv", date=when(d2),
                       condition="US commitments to deter Russia")
    up2 = ProposalUpdate(proposal="security-guarantees", article="rutte-in-kyiv", date=when(d2),
                         title="Security guarantees for Ukraine", status="under-negotiation",
                         summary="A two-part security pact.", proposed_by=("mark-rutte",),
                         positions=(pos_lav, pos_rut))
    ev2 = Event(date=when(d2), title=f"{rutte_name} arrives in Kyiv", actors=("mark-rutte",),
                article="rutte-in-kyiv")
    a2 = article("rutte-in-kyiv", d2, title,
                 body=(f"{rutte_name} reached Kyiv. Lavrov said \u201c{lavrov_quote}\u201d on Friday. "
                       "Rutte said it's too early to determine what the result will be. "
                       "See [[security-guarantees]]."),
                 summary="NATO's chief met Zelensky in Kyiv.", why_it_matters="The guarantees decide the peace.",
                 source=Source(name="Kyiv Independent", url="https://kyivindependent.com/"),
                 tags=("security-guarantees", "nato"),
                 actors=(rutte, zelensky, lavrov, nato), proposals=(up2,), quotes=(q_lav, q_rut),
                 events=(ev2,),
                 changes=Changes(new_actors=("sergei-lavrov", "nato"),
                                 status_changes=(ProposalStatusChange("security-guarantees", "proposed",
                                                                      "under-negotiation"),),
                                 stance_changes=(StanceChange("security-guarantees", "sergei-lavrov", "", "opposes"),
                                                 StanceChange("security-guarantees", "mark-rutte", "", "conditional"))))

    # 3: Lavrov softens to undecided; the question is answered.
    d3 = "2025-08-29"
    pos_lav2 = Position(actor="sergei-lavrov", stance="undecided", article="answer", date=when(d3))
    up3 = ProposalUpdate(proposal="security-guarantees", article="answer", date=when(d3),
                         title="Security guarantees for Ukraine", status="under-negotiation",
                         summary="A two-part security pact.", proposed_by=("mark-rutte",),
                         positions=(pos_lav2,))
    qu3 = QuestionUpdate(question="troop-contributors", article="answer", date=when(d3),
                         text="Who will contribute troops?", status="answered",
                         answer="Britain and France.", confidence="moderate",
                         raised_by=("volodymyr-zelensky",))
    a3 = article("answer", d3, "Britain and France to send troops", body="Lavrov was vague.",
                 draft=draft_last, tags=("nato",), actors=(lavrov,), proposals=(up3,), questions=(qu3,),
                 changes=Changes(stance_changes=(StanceChange("security-guarantees", "sergei-lavrov",
                                                              "opposes", "undecided"),),
                                 questions_answered=("troop-contributors",)))

    proposal = Proposal(
        id="security-guarantees", title="Security guarantees for Ukraine", status="under-negotiation",
        summary="A two-part security pact.", proposed_by=("mark-rutte",), updates=(up1, up2, up3),
        status_history=(StatusChange(when(d1), "summit", "", "proposed"),
                        StatusChange(when(d2), "rutte-in-kyiv", "proposed", "under-negotiation")),
        stances=(StanceHistory("volodymyr-zelensky", (pos_zel,)),
                 StanceHistory("sergei-lavrov", (pos_lav, pos_lav2)),
                 StanceHistory("mark-rutte", (pos_rut,))))
    question = Question(
        id="troop-contributors", text="Who will contribute troops?", status="answered",
        answer="Britain and France.", confidence="moderate", raised_by=("volodymyr-zelensky",),
        raised_in="summit", answered_in="answer", updates=(qu1, qu3),
        status_history=(StatusChange(when(d1), "summit", "", "open"),
                        StatusChange(when(d3), "answer", "open", "answered")))
    about = Page(slug="about", path="content/pages/about.md", title="About", body="About [[nato]].",
                 body_line=4)
    return site_of([a1, a2, a3], [nato, rutte, zelensky, lavrov], [proposal], [question], [about],
                   base_url=base_url, per_page=per_page)


def many_articles_site(count: int, per_page: int = 10) -> Site:
    """`count` one-line articles, one a day, for pagination."""
    start = dt.date(2025, 1, 1)
    articles = [article(f"note-{i:03d}", (start + dt.timedelta(days=i)).isoformat(), f"Note {i}")
                for i in range(count)]
    return site_of(articles, [], per_page=per_page)
