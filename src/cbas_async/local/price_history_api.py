"""DescribeSpotPriceHistory on the local EC2: WSGI middleware in front of moto that answers it
from the local market's prices (`local.price_board`) instead of moto's placeholder, so the
master's ordinary `Ec2PriceSource` reads replayed prices with no local-only path.

It reads what EC2 reads (InstanceType.N, ProductDescription.N, AvailabilityZone, StartTime,
EndTime, Filter.N of availability-zone, instance-type and product-description, MaxResults,
NextToken) and pages as moto pages its other listings (its `Paginator`: opaque tokens that
name the next page's first record and the request they belong to). Other filters are ignored.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from moto.core.exceptions import InvalidToken
from moto.utilities.paginator import Paginator

from cbas_async.clock import parse_utc
from cbas_async.local.ec2_faults import CLIENT_ERROR, Refusal, error_xml, request_id
from cbas_async.local.faults import read_body, request_scope
from cbas_async.local.price_board import HistoryQuery, SpotPriceBoard
from cbas_async.spot.history import epoch_s

ACTION = "DescribeSpotPriceHistory"
MAX_RESULTS = 1000  # EC2's page size when none is asked, and its largest
_FILTERS = {
    "availability-zone": "zones",
    "instance-type": "instance_types",
    "product-description": "products",
}
_UNIQUE = ["AvailabilityZone", "InstanceType", "Timestamp"]
_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"

Form = dict[str, list[str]]


def history_query(form: Form) -> HistoryQuery:
    """The query of a DescribeSpotPriceHistory form; ValueError for a malformed time."""
    rules: dict[str, list[frozenset[str]]] = {"zones": [], "instance_types": [], "products": []}
    for prefix, name in (("InstanceType", "instance_types"), ("ProductDescription", "products")):
        listed = _numbered(form, prefix)
        if listed:
            rules[name].append(frozenset(listed))
    if zone := _first(form, "AvailabilityZone"):
        rules["zones"].append(frozenset({zone}))
    for filter_name, values in _filters(form):
        if filter_name in _FILTERS:
            rules[_FILTERS[filter_name]].append(frozenset(values))
    return HistoryQuery(
        instance_types=tuple(rules["instance_types"]),
        zones=tuple(rules["zones"]),
        products=tuple(rules["products"]),
        start_s=_time(form, "StartTime"),
        end_s=_time(form, "EndTime"),
    )


def page_of(form: Form, records: list[dict[str, str]]) -> tuple[list[dict[str, str]], str | None]:
    """One page and the token of the next; raises moto's InvalidToken for a foreign token."""
    asked = {k: v for k, v in form.items() if k not in ("MaxResults", "NextToken")}
    size = _first(form, "MaxResults")
    paginator = Paginator(
        max_results=min(max(int(size), 1), MAX_RESULTS) if size else MAX_RESULTS,
        starting_token=_first(form, "NextToken"),
        unique_attribute=_UNIQUE,
        param_values_to_check={k: tuple(v) for k, v in sorted(asked.items())},
    )
    page, token = paginator.paginate(records)
    return list(page), token


def response_xml(records: Iterable[dict[str, str]], next_token: str | None) -> bytes:
    fields = ("instanceType", "productDescription", "spotPrice", "timestamp", "availabilityZone")
    items = []
    for record in records:
        cells = "".join(f"<{f}>{escape(record[f[0].upper() + f[1:]])}</{f}>" for f in fields)
        items.append(f"<item>{cells}</item>")
    token = "" if next_token is None else f"<nextToken>{escape(next_token)}</nextToken>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{ACTION}Response xmlns="{_NAMESPACE}"><requestId>{request_id()}</requestId>'
        f"<spotPriceHistorySet>{''.join(items)}</spotPriceHistorySet>{token}</{ACTION}Response>"
    ).encode()


class PriceHistoryApi:
    """WSGI middleware: answers DescribeSpotPriceHistory from `board` while it holds prices
    (for every region: a region without a trace has no history); all else passes through."""

    def __init__(self, app: Callable[..., Iterable[bytes]], board: SpotPriceBoard) -> None:
        self._app = app
        self.board = board

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        scope = request_scope(environ) if self.board.active else None
        if scope is None or scope[2] != "ec2":
            return self._app(environ, start_response)
        form = urllib.parse.parse_qs(read_body(environ).decode("utf-8", "replace"))
        if _first(form, "Action") != ACTION:
            return self._app(environ, start_response)
        status, body = self._answer(scope[1], form)
        headers = [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def _answer(self, region: str, form: Form) -> tuple[str, bytes]:
        try:
            records = self.board.history(region, history_query(form))
            page, token = page_of(form, records)
        except InvalidToken:
            message = "The specified pagination token is not valid or is expired."
            return _refused("InvalidPaginationToken", message)
        except ValueError as exc:
            return _refused("InvalidParameterValue", str(exc))
        return "200 OK", response_xml(page, token)


def _refused(code: str, message: str) -> tuple[str, bytes]:
    return CLIENT_ERROR, error_xml(Refusal(CLIENT_ERROR, code, message), request_id())


def _first(form: Form, key: str) -> str | None:
    return form.get(key, [None])[0]


def _numbered(form: Form, prefix: str) -> list[str]:
    """`Prefix.1`, `Prefix.2`, ... in order."""
    found = []
    n = 1
    while (value := _first(form, f"{prefix}.{n}")) is not None:
        found.append(value)
        n += 1
    return found


def _filters(form: Form) -> list[tuple[str, list[str]]]:
    found = []
    n = 1
    while (name := _first(form, f"Filter.{n}.Name")) is not None:
        found.append((name, _numbered(form, f"Filter.{n}.Value")))
        n += 1
    return found


def _time(form: Form, key: str) -> float | None:
    text = _first(form, key)
    if text is None:
        return None
    try:
        return epoch_s(parse_utc(text))
    except ValueError as exc:
        raise ValueError(f"{key} {text!r} is not a date and time") from exc
