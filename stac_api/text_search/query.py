"""Text search: "vineyards near Bordeaux in June 2025" -> classes, place, dates -> a STAC search.

:func:`interpret` reads the query word by word, left to right, taking at each position the
longest thing it knows:

1. a date expression: an ISO day (``2025-06-01``) or month (``2025-06``), a month name with or
   without a year (``June 2025``, ``jun``), a season (``summer 2024``: June-August; ``winter
   2024``: December 2024-February 2025), a year; two of them joined by ``to``/``until``/``-``
   or ``between ... and ...`` make one interval; ``since``/``after`` and ``before``/``until``
   open one end. A month or season without a year takes the next year written in the query
   (else the previous one): "June and July 2025";
2. a land-cover phrase (:mod:`stac_api.text_search.synonyms`: legend names at every level and
   synonyms);
3. a place (:mod:`stac_api.text_search.gazetteer`: regions, then cities; a city's box is
   ``radius_km`` around it);
4. a filler word ("near", "in", "the", ...), reported under ``ignored``;

and reports everything else under ``unknown``: no word is dropped without saying so.

:meth:`TextQuery.search_body` is the STAC search it stands for: the classes as ``categories``
(so the API's category search applies them), the place as ``bbox`` (several places: a
``intersects`` multipolygon), one interval as ``datetime`` (several: a CQL2 ``or`` of
intervals).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stac_fastapi.types.errors import InvalidQueryParameter

from catalog_schemas import clc
from stac_api.text_search import gazetteer, synonyms

DEFAULT_RADIUS_KM = 25.0
MAX_QUERY_CHARS = 500
Q_HELP = ("What, where and when in words: 'vineyards near Bordeaux in June 2025', 'coniferous "
          "forest Alps', 'water bodies summer 2024'.")

FILLERS = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "near", "around", "nearby", "close", "by",
    "within", "inside", "over", "across", "for", "with", "show", "find", "me", "all", "any",
    "some", "where", "are", "is", "there", "images", "image", "products", "product", "maps",
    "map", "scenes", "scene", "areas", "area", "land", "cover", "landcover", "please", "during",
    "from", "and", "or",
})
RANGE_JOINERS = frozenset({"to", "until", "till", "through", "-", "–"})
OPEN_START = frozenset({"before", "until", "till"})  # "before 2025": ..2024-12-31
OPEN_END = frozenset({"since", "after", "from"})
MONTHS = {fold: i for i, name in enumerate(calendar.month_name) if name
          for fold in (name.lower(), name[:3].lower())} | {"sept": 9}
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11),
           "winter": (12, 2)}
MARKS = RANGE_JOINERS | OPEN_START | OPEN_END | {"between"}
# Words after which a capitalised unknown word is meant as a place ("near Occitanie").
PLACE_WORDS = frozenset({"near", "in", "around", "at", "nearby", "close", "by"})
_YEAR = re.compile(r"^(19|20)\d\d$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ISO_RANGE = re.compile(r"^([\d-]+)/([\d-]+)$")


class InvalidTextQuery(InvalidQueryParameter):
    """A text query that cannot be searched: empty, too long, nothing understood, dates reversed."""


@dataclass
class Interval:
    text: str
    start: date | None
    end: date | None  # inclusive day

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text,
                "start": f"{self.start.isoformat()}T00:00:00Z" if self.start else None,
                "end": f"{self.end.isoformat()}T23:59:59Z" if self.end else None}

    def stac(self) -> str:
        d = self.as_dict()
        return f"{d['start'] or '..'}/{d['end'] or '..'}"


@dataclass
class TextQuery:
    """What a query was understood as."""

    text: str
    classes: list[dict[str, Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    dates: list[Interval] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        found: dict[str, None] = {}
        for term in self.classes:
            found.update(dict.fromkeys(term["codes"]))
        return list(found)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "classes": self.classes, "codes": self.codes,
                "places": self.places, "dates": [d.as_dict() for d in self.dates],
                "ignored": self.ignored, "unknown": self.unknown}

    def search_body(self, collections: list[str] | None = None, limit: int = 10,
                    min_fraction: float | None = None) -> dict[str, Any]:
        """The POST /search body this query stands for (categories not yet folded into CQL2)."""
        body: dict[str, Any] = {"limit": limit}
        if collections:
            body["collections"] = collections
        if self.codes:
            body["categories"] = self.codes
            if min_fraction is not None:
                body["min_fraction"] = min_fraction
        boxes = [p["bbox"] for p in self.places]
        if len(boxes) == 1:
            body["bbox"] = boxes[0]
        elif boxes:
            body["intersects"] = {"type": "MultiPolygon", "coordinates": [
                [[[w, s], [e, s], [e, n], [w, n], [w, s]]] for w, s, e, n in boxes]}
        if len(self.dates) == 1:
            body["datetime"] = self.dates[0].stac()
        elif self.dates:
            body["filter"] = {"op": "or", "args": [_interval_filter(d) for d in self.dates]}
            body["filter-lang"] = "cql2-json"
        return body


def _interval_filter(interval: Interval) -> dict[str, Any]:
    bounds = interval.as_dict()
    args = []
    if bounds["start"]:
        args.append({"op": ">=", "args": [{"property": "datetime"},
                                          {"timestamp": bounds["start"]}]})
    if bounds["end"]:
        args.append({"op": "<=", "args": [{"property": "datetime"},
                                          {"timestamp": bounds["end"]}]})
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


# -- dates ----------------------------------------------------------------------------------


@dataclass
class _Date:
    """One date expression before years are filled in: month/season may lack a year."""

    text: str
    position: int
    year: int | None
    first_month: int = 1
    last_month: int = 12
    day: int | None = None
    needs_year: bool = False

    def interval(self) -> Interval:
        assert self.year is not None
        if self.day is not None:
            day = date(self.year, self.first_month, self.day)
            return Interval(self.text, day, day)
        start = date(self.year, self.first_month, 1)
        end_year = self.year + (1 if self.last_month < self.first_month else 0)
        end = date(end_year, self.last_month,
                   calendar.monthrange(end_year, self.last_month)[1])
        return Interval(self.text, start, end)


def _iso(token: str, position: int) -> _Date | None:
    if m := _ISO_DAY.match(token):
        y, mo, d = (int(g) for g in m.groups())
        try:
            date(y, mo, d)
        except ValueError:
            raise InvalidTextQuery(f"{token!r} is not a valid date") from None
        return _Date(token, position, y, mo, mo, d)
    if m := _ISO_MONTH.match(token):
        y, mo = (int(g) for g in m.groups())
        if not 1 <= mo <= 12:
            raise InvalidTextQuery(f"{token!r} is not a valid month") from None
        return _Date(token, position, y, mo, mo)
    return None


def _date_at(tokens: list[str], i: int) -> tuple[_Date, int] | None:
    """A date expression starting at ``tokens[i]`` and how many words it takes."""
    word = tokens[i].lower()
    following = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
    year = int(following) if _YEAR.match(following) else None
    if word in MONTHS:
        month = MONTHS[word]
        n = 2 if year else 1
        return _Date(" ".join(tokens[i:i + n]), i, year, month, month,
                     needs_year=year is None), n
    if word in SEASONS:
        first, last = SEASONS[word]
        n = 2 if year else 1
        return _Date(" ".join(tokens[i:i + n]), i, year, first, last,
                     needs_year=year is None), n
    if _YEAR.match(word):
        return _Date(tokens[i], i, int(word)), 1
    found = _iso(word, i)
    return (found, 1) if found else None


def _fill_years(pending: list[_Date], dated: list[_Date]) -> list[_Date]:
    """Give a month or season without a year the next year written (else the previous one)."""
    unresolved = []
    for d in pending:
        after = [x.year for x in dated if x.position > d.position and x.year]
        before = [x.year for x in dated if x.position < d.position and x.year]
        if after or before:
            d.year = after[0] if after else before[-1]
        else:
            unresolved.append(d)
    return unresolved


# -- the reader -----------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    # Words, ISO dates and ranges, and a lone dash between two dates ("2024 - 2025").
    tokens = []
    for raw in text.split():
        token = raw.strip(".,;:!?\"'()[]")
        if not token:
            continue
        if m := _ISO_RANGE.match(token):
            tokens += [m.group(1), "to", m.group(2)]
        elif token in RANGE_JOINERS or _ISO_DAY.match(token) or _ISO_MONTH.match(token):
            tokens.append(token)
        else:
            # A token with no letter or digit ("🙂") stays whole, to be reported as unknown.
            tokens += synonyms.words(token) or [token]
    return tokens


def _class_entry(term: synonyms.LandCoverTerm, text: str) -> dict[str, Any]:
    return {"text": text, "source": term.source, "matched": term.phrase,
            "codes": [str(c) for c in term.codes],
            "names": [clc.by_clc_code(c).name for c in term.codes]}


def _place_entry(place: gazetteer.Place, text: str, radius_km: float) -> dict[str, Any]:
    return {"text": text, "name": place.name, "kind": place.kind, "country": place.country,
            "lon": place.lon, "lat": place.lat, "population": place.population,
            "geonameid": place.geonameid,
            "radius_km": None if place.kind == "region" else radius_km,
            "bbox": list(place.bbox(radius_km))}


def _place_at(tokens: list[str], i: int) -> tuple[gazetteer.Place, int] | None:
    """A place at ``tokens[i]``; a filler or range word alone is never one ("to" is a town)."""
    found = gazetteer.match(tokens, i)
    if found is None or (found[1] == 1 and tokens[i].lower() in FILLERS | MARKS):
        return None
    return found


def _check_input(text: str, radius_km: float) -> None:
    if not text or not text.strip():
        raise InvalidTextQuery("the text query is empty: say what, where or when, e.g. "
                               "'vineyards near Bordeaux in June 2025'")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidTextQuery(f"the text query is {len(text)} characters long; at most "
                               f"{MAX_QUERY_CHARS}")
    if not 0 < radius_km <= 500:
        raise InvalidTextQuery(f"radius_km must be in (0, 500], got {radius_km}")


def interpret(text: str, radius_km: float = DEFAULT_RADIUS_KM) -> TextQuery:
    """Read ``text``; raise :class:`InvalidTextQuery` when nothing in it can be searched."""
    _check_input(text, radius_km)
    tokens = _tokens(text)
    query = TextQuery(text=text)
    dates: list[_Date] = []
    marks: list[tuple[int, str]] = []  # positions of range joiners and open-end words
    i = 0
    while i < len(tokens):
        word = tokens[i].lower()
        if (found := _date_at(tokens, i)) is not None:
            dates.append(found[0])
            i += found[1]
        elif (term := synonyms.match(tokens, i)) is not None:
            query.classes.append(_class_entry(term[0], " ".join(tokens[i:i + term[1]])))
            i += term[1]
        elif (place := _place_at(tokens, i)) is not None:
            query.places.append(_place_entry(place[0], " ".join(tokens[i:i + place[1]]),
                                             radius_km))
            i += place[1]
        elif word in MARKS:
            marks.append((i, word))
            i += 1
        elif word in FILLERS:
            query.ignored.append(tokens[i])
            i += 1
        else:
            if i > 0 and tokens[i - 1].lower() in PLACE_WORDS and tokens[i][:1].isupper():
                raise InvalidTextQuery(_unknown_place(tokens[i], text))
            query.unknown.append(tokens[i])
            i += 1
    for d in _fill_years([d for d in dates if d.needs_year], dates):
        query.unknown.append(d.text)  # a month with no year anywhere: not guessed
        dates.remove(d)
    try:
        query.dates = _intervals(dates, marks, tokens, query)
    except ValueError as exc:  # a calendar date that cannot exist ("0000-05")
        raise InvalidTextQuery(f"a date in {text!r} is out of the calendar: {exc}") from None
    if not (query.classes or query.places or query.dates):
        raise InvalidTextQuery(
            f"nothing in {text!r} names a land-cover class, a place or a date; unknown words: "
            f"{', '.join(query.unknown) or 'none'}")
    return query


def _unknown_place(word: str, text: str) -> str:
    """A capitalised word after "near", "in", ... is meant as a place: searching without it
    would silently widen the search to everywhere, so it is refused, with close names."""
    close = gazetteer.similar(word)
    hint = f"; did you mean {', '.join(close)}?" if close else (
        " (the gazetteer knows European regions and cities over 15,000 people)")
    return f"unknown place {word!r} in {text!r}{hint}"


def _intervals(dates: list[_Date], marks: list[tuple[int, str]], tokens: list[str],
               query: TextQuery) -> list[Interval]:
    """Dates joined by range words become one interval; open-ended words open one end."""
    marks_at = dict(marks)
    used: set[int] = set()
    out: list[Interval] = []
    k = 0
    while k < len(dates):
        d = dates[k]
        nxt = dates[k + 1] if k + 1 < len(dates) else None
        before = marks_at.get(d.position - 1)
        between = ({marks_at.get(p) for p in range(d.position + 1, nxt.position)} - {None}
                   if nxt else set())
        this = d.interval()
        if nxt is not None and (between & RANGE_JOINERS or (
                before == "between" and "and" in
                [t.lower() for t in tokens[d.position + 1:nxt.position]])):
            end = nxt.interval()
            joined = Interval(f"{this.text} to {end.text}", this.start, end.end)
            if joined.start and joined.end and joined.start > joined.end:
                raise InvalidTextQuery(f"the dates run backwards: {joined.text}")
            out.append(joined)
            used |= {d.position - 1, *range(d.position + 1, nxt.position)}
            k += 2
            continue
        if before in OPEN_END:
            out.append(Interval(f"{before} {this.text}", this.start, None))
            used.add(d.position - 1)
        elif before in OPEN_START:
            assert this.start is not None  # a date's interval has both ends
            out.append(Interval(f"{before} {this.text}", None, this.start - timedelta(days=1)
                                if before == "before" else this.end))
            used.add(d.position - 1)
        else:
            out.append(this)
        k += 1
    # "and" between two dates was consumed as a joiner or filler already; any range word that
    # joined nothing is reported, not dropped.
    for position, word in marks:
        if position not in used:
            (query.ignored if word in FILLERS else query.unknown).append(tokens[position])
    return out
