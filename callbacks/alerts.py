"""Alerts: the /alerts page, the top-bar badge, the overview and district panels, operator actions, and the
admin's rules table.

Reads re-render only when the alert version moved (or, for the ages, the minute changed on /alerts and
the AGES_EVERY_S slot of the clock on the overview's and district page's panels: dashboard.refresh). Every action
calls require_role first: the server refuses a viewer or a kiosk whatever the page shows.
"""
from __future__ import annotations

import time

import orjson
from dash import ALL, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from dashboard import sharedcache
from dashboard.auth import current_user, has_role, require_role
from dashboard.pages import alerts as alerts_page
from dashboard.reads import alerts as reads
from dashboard import refresh as refresh_state
from dashboard.store import StoreUnavailable
from feeds.alert_rules import RuleBook, config_rules
from feeds.alerts import AlertCleared, AlertError, UnknownAlert
from feeds.config import ConfigError
from feeds.timeparse import zone


def register(app, store, settings) -> None:
    config_rules(store.city)  # a bad rule stops the app at start with one line (ConfigError)
    tz = zone(store.city.timezone)

    # --- the page ------------------------------------------------------------------------
    @app.callback(Output("alerts-body", "children"), Output("alerts-shown", "data"),
                  Input("tick", "n_intervals"), Input("alerts-poke", "data"),
                  State("alerts-query", "data"), State("alerts-shown", "data"))
    def refresh(_, __, query, shown):
        alert_id = (query or {}).get("alert")
        can_act = has_role(current_user(), "coordinator")
        now = time.time()
        try:
            version = reads.version(store)
            key = panel_key(version, [alert_id, can_act], now)
            if shown == key:
                raise PreventUpdate
            if alert_id:
                a = reads.alert(store, alert_id)
                body = alerts_page.render_detail(a, reads.audit(store, alert_id) if a else [], now, tz, can_act,
                                                 alert_id)
            else:
                body = alerts_page.render_list(reads.open_alerts(store), reads.cleared_alerts(store, 30), now, tz,
                                               can_act)
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return body, key

    # --- actions (coordinator): one callback, so the page has one message and one re-render trigger ------
    @app.callback(Output("alerts-action-msg", "children"), Output("alerts-poke", "data"),
                  Input({"type": "alert-ack", "id": ALL}, "n_clicks"),
                  Input({"type": "alert-assign", "id": ALL}, "n_clicks"),
                  Input({"type": "alert-comment", "id": ALL}, "n_clicks"),
                  State({"type": "alert-assign-name", "id": ALL}, "value"),
                  State({"type": "alert-comment-text", "id": ALL}, "value"),
                  prevent_initial_call=True)
    def act(acks, assigns, comments, names, texts):
        user = require_role("coordinator")
        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # a button drawn, not clicked
        alert_id, kind = str(trig["id"]), trig["type"]
        alerts = reads.book(store)

        def typed(state_index: int) -> str:
            for item in ctx.states_list[state_index]:
                if item["id"].get("id") == alert_id:
                    return (item.get("value") or "").strip()
            return ""

        if kind == "alert-ack":
            fn, done = (lambda: alerts.acknowledge(alert_id, user.name)), f"Acknowledged {alert_id} as {user.name}."
        elif kind == "alert-assign":
            name = typed(0)
            fn = lambda: alerts.assign(alert_id, name or None, user.name)  # noqa: E731
            done = f"Assigned {alert_id} to {name}." if name else f"{alert_id} is unassigned."
        else:
            text = typed(1)
            fn, done = (lambda: alerts.comment(alert_id, text, user.name)), f"Comment added to {alert_id}."
        try:
            store.call(fn)
        except UnknownAlert:
            return f"No alert {alert_id}.", no_update
        except AlertCleared:
            return f"Alert {alert_id} has already cleared.", time.time()
        except AlertError as e:
            return str(e), no_update
        except StoreUnavailable:
            return "The data store is unreachable; try again in a moment.", no_update
        return done, time.time()

    @app.callback(Output("alerts-forms", "children"), Input("alerts-poke", "data"), State("alerts-query", "data"),
                  prevent_initial_call=True)
    def fresh_forms(_, query):
        """Empty forms after an action went through (a read: the action itself checked the role)."""
        alert_id = (query or {}).get("alert")
        if not alert_id or not has_role(current_user(), "coordinator"):
            return None
        return alerts_page.action_forms(alert_id)

    # --- the badge in the top bar and the panels of other pages -----------------------------
    @app.callback(Output("alert-badge", "children"), Output("alert-badge", "className"),
                  Input("tick", "n_intervals"))
    def badge(_):
        try:
            open_alerts = reads.open_alerts(store)
        except StoreUnavailable:
            raise PreventUpdate
        return badge_content(open_alerts)

    # The overview's and district page's panels: redrawn when the alert version moved, or once per
    # AGES_EVERY_S slot for their ages; a tick with neither sends nothing (their pages keep what they show).
    @app.callback(Output("overview-alerts", "children"), Output("overview-alerts-shown", "data"),
                  Input("tick", "n_intervals"), State("overview-alerts-shown", "data"))
    def overview_panel(_, shown):
        return panel(shown, None, lambda alerts, now: alerts_page.alerts_panel(alerts, now, tz))

    @app.callback(Output("district-alerts", "children"), Output("district-alerts-shown", "data"),
                  Input("tick", "n_intervals"), Input("district-id", "data"), State("district-alerts-shown", "data"))
    def district_panel(_, district_id, shown):
        name = next((d.name for d in store.city.districts if d.id == district_id), district_id)
        return panel(shown, district_id, lambda alerts, now: alerts_page.alerts_panel(
            [a for a in alerts if a.get("district") == district_id], now, tz, compact=False,
            title=f"Alerts in {name}", empty=f"No open alerts in {name}."))

    def panel(shown, district_id, draw):
        now = time.time()
        try:
            key = {"version": reads.version(store), "district": district_id, "ages": refresh_state.ages_slot(now)}
            if shown == key:
                raise PreventUpdate
            # The screens redrawing it in the same second get the same answer (its ages as of that second).
            return sharedcache.compute(store, "alerts-panel", {**key, "second": int(now)},
                                       lambda: draw(reads.open_alerts(store), now)), key
        except StoreUnavailable:
            raise PreventUpdate

    # --- admin: the rules ---------------------------------------------------------------------
    register_rules(app, store, tz)


def panel_key(version: int, view: list, now: float) -> dict:
    """What a refreshed alert view shows: the alert version, the view, and the minute (ages move)."""
    return {"version": version, "view": view, "minute": int(now // 60)}


def badge_content(open_alerts: list[dict]):
    """("▲ 2 critical" linked to /alerts, class with the worst severity) or hidden when none are open."""
    if not open_alerts:
        return [], "alert-badge hidden"
    worst = reads.worst(open_alerts)
    n = reads.counts(open_alerts)[worst]
    more = len(open_alerts) - n
    text = f"▲ {n} {worst}" + (f" +{more}" if more else "")
    return dcc.Link(text, href="/alerts", id="alert-badge-link",
                    title=f"{len(open_alerts)} open alert{'s' if len(open_alerts) != 1 else ''}"), \
        f"alert-badge sev-{worst}"




def register_rules(app, store, tz) -> None:
    """The admin's rules table in the ``admin-rules`` slot of /admin: CITY_CONFIG rules read-only (enable or
    disable them), runtime rules added and deleted; every change audited with who and when."""
    rulebook = RuleBook(store.r, store.keys, store.city)

    @app.callback(Output("admin-rules", "children"), Input("admin-rules", "id"))
    def skeleton(_):
        require_role("admin")  # only /admin draws the slot; anyone else asking is refused (403)
        return alerts_page.rules_skeleton()

    @app.callback(Output("admin-rules-table", "children"),
                  Input("tick", "n_intervals"), Input("admin-rules-poke", "data"))
    def table(_, __):
        require_role("admin")
        try:
            entries = reads.rules(store)
            open_alerts = reads.open_alerts(store)
            audit = reads.rule_audit(store, 20)
        except StoreUnavailable:
            raise PreventUpdate
        return alerts_page.rules_table(entries, open_alerts, audit, reads.escalate_after_default(store), tz)

    @app.callback(Output("admin-rules-msg", "children"), Output("admin-rules-poke", "data"),
                  Output("admin-rule-new", "value"),
                  Input({"type": "rule-toggle", "id": ALL}, "n_clicks"),
                  Input({"type": "rule-delete", "id": ALL}, "n_clicks"),
                  Input("admin-rule-add", "n_clicks"), State("admin-rule-new", "value"),
                  prevent_initial_call=True)
    def change(toggles, deletes, add, text):
        user = require_role("admin")
        trig = ctx.triggered_id
        if trig is None or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # a button drawn, not clicked
        try:
            if trig == "admin-rule-add":
                try:
                    raw = orjson.loads(text or "")
                except orjson.JSONDecodeError as e:
                    return f"The new rule is not JSON: {e}", no_update, no_update
                rule = store.call(rulebook.add, raw, user.name)
                return f"Rule {rule.id} added by {user.name}.", time.time(), ""
            rule_id = str(trig["id"])
            if trig["type"] == "rule-delete":
                store.call(rulebook.delete, rule_id, user.name)
                return f"Rule {rule_id} deleted by {user.name}.", time.time(), no_update
            entry = next((e for e in reads.rules(store) if e["rule"].id == rule_id), None)
            if entry is None:
                return f"No rule {rule_id}.", no_update, no_update
            enable = not entry["enabled"]
            store.call(rulebook.set_enabled, rule_id, enable, user.name)
            return f"Rule {rule_id} {'enabled' if enable else 'disabled'} by {user.name}.", time.time(), no_update
        except ConfigError as e:
            return str(e), no_update, no_update
        except StoreUnavailable:
            return "The data store is unreachable; try again in a moment.", no_update, no_update
