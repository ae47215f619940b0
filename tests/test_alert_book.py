"""The alert lifecycle: raised -> acknowledged -> cleared, assignee, comments, escalation, audit."""
from __future__ import annotations

import pytest

from feeds.alerts import AlertBook, AlertError


@pytest.fixture
def book(r, keys):
    return AlertBook(r, keys)


def test_a_breach_raises_one_alert_and_re_raising_updates_it(book):
    a = book.raise_alert("turnout", "city", "major", "Turnout", "EMS turnout 75 s", now=100, value=75)
    b = book.raise_alert("turnout", "city", "major", "Turnout", "EMS turnout 80 s", now=160, value=80)
    assert a["id"] == b["id"]
    (open_,) = book.open_alerts()
    assert open_["value"] == 80 and open_["raised_at"] == 100 and open_["updated_at"] == 160
    assert open_["state"] == "active" and open_["acknowledged"] is False


def test_acknowledge_records_who_and_when_and_cleared_alert_starts_a_new_one(book):
    a = book.raise_alert("aqi", "D2", "critical", "AQI", "AQI 180", now=100)
    book.acknowledge(a["id"], "ana", now=130)
    acked = book.get(a["id"])
    assert (acked["state"], acked["acknowledged_by"], acked["acknowledged_at"]) == ("acknowledged", "ana", 130)
    book.clear("aqi", "D2", now=200)
    cleared = book.get(a["id"])
    assert (cleared["state"], cleared["cleared_by"], cleared["cleared_at"]) == ("cleared", "system", 200)
    assert book.open_alerts() == []
    again = book.raise_alert("aqi", "D2", "critical", "AQI", "AQI 190", now=300)
    assert again["id"] != a["id"]
    with pytest.raises(AlertError):
        book.acknowledge(a["id"], "ana", now=301)


def test_a_missed_alert_stays_unacknowledged_in_the_history(book):
    a = book.raise_alert("feed", "traffic", "major", "Feed silent", "no data 300 s", now=100)
    book.clear("feed", "traffic", now=150)
    (gone,) = book.cleared_alerts()
    assert gone["id"] == a["id"] and gone["acknowledged"] is False and gone["state"] == "cleared"


def test_assignee_and_comments_are_kept_with_their_author(book):
    a = book.raise_alert("q", "city", "minor", "Queue", "wait 40 min", now=100)
    book.assign(a["id"], "bo", "ana", now=110)
    book.comment(a["id"], "Extra counter opened", "bo", now=120)
    got = book.get(a["id"])
    assert got["assignee"] == "bo"
    assert got["comments"] == [{"at": 120, "by": "bo", "text": "Extra counter opened"}]
    with pytest.raises(AlertError):
        book.comment(a["id"], "   ", "bo")


def test_unacknowledged_alert_escalates_one_step_per_period_and_stops_when_acknowledged(book):
    a = book.raise_alert("q", "city", "minor", "Queue", "wait 40 min", now=0)
    assert book.escalate_due(lambda _: 600, now=599) == []
    (e1,) = book.escalate_due(lambda _: 600, now=600)
    assert (e1["severity"], e1["escalations"]) == ("major", 1)
    assert book.escalate_due(lambda _: 600, now=1100) == []  # next period counts from the escalation
    (e2,) = book.escalate_due(lambda _: 600, now=1200)
    assert e2["severity"] == "critical" and e2["base_severity"] == "minor"
    book.acknowledge(a["id"], "ana", now=1300)
    assert book.escalate_due(lambda _: 600, now=5000) == []
    # Re-raising at the rule's own severity never lowers an escalation.
    assert book.raise_alert("q", "city", "minor", "Queue", "wait 41 min", now=5001)["severity"] == "critical"


def test_every_state_change_is_in_the_audit_with_who_and_when(book):
    a = book.raise_alert("q", "city", "warning", "Queue", "wait", now=10)
    book.escalate_due(lambda _: 5, now=20)
    book.acknowledge(a["id"], "ana", now=30)
    book.assign(a["id"], "bo", "ana", now=40)
    book.comment(a["id"], "on it", "bo", now=50)
    book.clear_by_operator(a["id"], "ana", now=60)
    trail = [(e["action"], e["by"], e["at"]) for e in reversed(book.audit(a["id"]))]
    assert trail == [("raised", "system", 10), ("escalated", "system", 20), ("acknowledged", "ana", 30),
                     ("assigned", "ana", 40), ("commented", "bo", 50), ("cleared", "ana", 60)]


def test_version_moves_on_every_change_only(book):
    v0 = book.version()
    a = book.raise_alert("q", "city", "warning", "Queue", "wait", now=10, value=1)
    v1 = book.version()
    book.raise_alert("q", "city", "warning", "Queue", "wait", now=20, value=1)  # same value: no change
    assert book.version() == v1 > v0
    book.acknowledge(a["id"], "ana", now=30)
    assert book.version() > v1


def test_a_severity_rise_alone_moves_the_version_so_walls_see_it(book):
    book.raise_alert("aqi", "D2", "major", "AQI", "AQI high", now=10, value=1)
    v = book.version()
    raised = book.raise_alert("aqi", "D2", "critical", "AQI", "AQI high", now=20, value=1)
    assert raised["severity"] == "critical" and book.version() > v
