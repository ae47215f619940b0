"""A coordinator notes an incident on its drill-down; the note is listed there and marked on the emergency
KPIs' trend charts; a viewer reads it without an add box."""
from __future__ import annotations

import time

import pytest

from feeds.annotations import Annotations
from tests.emergency_helpers import west_coast_city
from tests.test_emergency_browser import feed
from tests.test_kpi_page_browser import MARKERS, start_as, wait_for
from tests.test_browser import no_console_errors

pytestmark = pytest.mark.browser


def test_a_coordinator_notes_an_incident_and_it_shows_on_the_emergency_charts(dash_duo, r, keys, redis_url):
    city = west_coast_city()
    feed(r, keys, city)
    ana = start_as(dash_duo, r, redis_url, keys, city, "coordinator", path="/emergency?incident=I-1")
    dash_duo.wait_for_text_to_equal("#emergency-incident-name", "I-1", timeout=10)
    dash_duo.wait_for_contains_text("#emergency-notes-list", "No notes yet", timeout=10)
    dash_duo.find_element("#emergency-note-text").send_keys("Patient handed to Mercy ER; family informed")
    dash_duo.find_element("#emergency-note-add").click()
    dash_duo.wait_for_contains_text("#emergency-note-msg", f"Added by {ana}", timeout=10)
    dash_duo.wait_for_contains_text("#emergency-notes-table", "Patient handed to Mercy ER", timeout=10)
    [note] = Annotations(r, keys).list("incident:I-1")
    assert (note["by"], note["target"]) == (ana, "incident:I-1")
    # The drill-down panel keeps refreshing below: the note box survives it (typed text is not wiped).
    dash_duo.find_element("#emergency-note-text").send_keys("draft")
    time.sleep(2.5)
    assert dash_duo.find_element("#emergency-note-text").get_attribute("value") == "draft"
    # On an emergency KPI's trend chart the incident's note is a marker; a traffic KPI shows only the timeline.
    dash_duo.wait_for_page(f"{dash_duo.server_url}/kpi/emergency.travel_p90_s")
    hover = wait_for(lambda: dash_duo.driver.execute_script(MARKERS))
    assert len(hover) == 1 and "incident I-1" in hover[0] and "Patient handed" in hover[0]
    dash_duo.wait_for_contains_text("#kpi-notes-table", "Patient handed to Mercy ER", timeout=10)
    no_console_errors(dash_duo)


def test_a_viewer_reads_an_incidents_notes_without_an_add_box(dash_duo, r, keys, redis_url):
    city = west_coast_city()
    feed(r, keys, city)
    Annotations(r, keys).add("incident:I-2", "Hydrant at the corner is dry", "ana")
    start_as(dash_duo, r, redis_url, keys, city, "viewer", path="/emergency?incident=I-2")
    dash_duo.wait_for_contains_text("#emergency-notes-table", "Hydrant at the corner is dry", timeout=10)
    assert dash_duo.find_elements("#emergency-note-text") == []
    no_console_errors(dash_duo)


def test_a_coordinator_deletes_a_timeline_note_and_the_audit_keeps_who_and_when(dash_duo, r, keys, redis_url,
                                                                                 sample_city):
    book = Annotations(r, keys)
    keep = book.add("timeline", "Tunnel reopened", "ben", at=time.time() - 600)
    typo = book.add("timeline", "Tunel reopend", "ben", at=time.time() - 590)
    ana = start_as(dash_duo, r, redis_url, keys, sample_city, "coordinator", path="/timeline")
    dash_duo.wait_for_contains_text("#timeline-table", "Tunel reopend", timeout=20)
    dash_duo.wait_for_element(f"#note-{typo['id']} .note-delete", timeout=20).click()
    dash_duo.wait_for_contains_text("#timeline-note-msg", "Deleted", timeout=20)
    assert wait_for(lambda: "Tunel reopend" not in dash_duo.find_element("#timeline-table").text)
    assert "Tunnel reopened" in dash_duo.find_element("#timeline-table").text
    assert [n["id"] for n in book.list("timeline")] == [keep["id"]]
    deleted = book.audit()[0]
    assert (deleted["action"], deleted["by"], deleted["note"]) == ("deleted", ana, typo["id"])
    no_console_errors(dash_duo)


def test_a_viewer_has_no_delete_buttons(dash_duo, r, keys, redis_url, sample_city):
    Annotations(r, keys).add("timeline", "Tunnel reopened", "ben")
    start_as(dash_duo, r, redis_url, keys, sample_city, "viewer", path="/timeline")
    dash_duo.wait_for_contains_text("#timeline-table", "Tunnel reopened", timeout=10)
    assert dash_duo.find_elements(".note-delete") == []
    no_console_errors(dash_duo)
