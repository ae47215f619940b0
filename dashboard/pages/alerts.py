"""Alerts "/alerts": open alerts, most severe first, with who acknowledged and who is on it; recently
cleared below (missed ones flagged); "/alerts?alert=A12" drills down to one alert's comments and audit.

Pure render functions (no Redis): callbacks/alerts.py reads the store and hands the alerts here.
``alerts_panel(alerts, now, tz)`` is the compact list other pages show (overview, district).
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from dash import dcc, html

from dashboard.auth import current_user, has_role
from dashboard.components import format_age

SEVERITY_LABEL = {"critical": "CRITICAL", "major": "MAJOR", "minor": "MINOR", "warning": "WARNING"}
STATE_LABEL = {"active": "ACTIVE", "acknowledged": "ACKNOWLEDGED", "cleared": "CLEARED"}
ACTION_LABEL = {"raised": "raised", "escalated": "escalated", "acknowledged": "acknowledged",
                "assigned": "assigned", "commented": "commented", "cleared": "cleared"}


def page(store, query: dict) -> html.Div:
    alert_id = query.get("alert") or query.get("id")  # /alerts?alert=A12 (or /alerts/A12)
    can_act = has_role(current_user(), "coordinator")
    children = [
        dcc.Store(id="alerts-query", data={"alert": alert_id}),
        dcc.Store(id="alerts-shown"),
        dcc.Store(id="alerts-poke", data=0),
        html.Div(className="page-head", children=[
            html.H1(f"Alert {alert_id}" if alert_id else "Alerts"),
            dcc.Link("← all alerts", href="/alerts", className="back-link") if alert_id else None,
        ]),
        html.Div(id="alerts-action-msg", className="alerts-msg", role="status"),
        html.Div(id="alerts-body", className="alerts-body"),
    ]
    # The forms sit outside the refreshed body (typing is never wiped by a refresh); they are drawn again,
    # empty, after an action succeeds.
    children.append(html.Div(action_forms(alert_id) if alert_id and can_act else None, id="alerts-forms"))
    return html.Div(children, className="alerts-page")


def action_forms(alert_id: str) -> html.Section:
    """Assign and comment (coordinators, on the drill-down). Pattern ids carry the alert id."""
    return html.Section(className="panel alert-forms", children=[
        html.H3("Act on this alert"),
        html.Div(className="alert-form", children=[
            dcc.Input(id={"type": "alert-assign-name", "id": alert_id}, type="text", placeholder="assign to (name)",
                      maxLength=100, className="alert-input alert-assign-name"),
            html.Button("Assign", id={"type": "alert-assign", "id": alert_id}, n_clicks=0,
                        className="alert-btn alert-assign"),
        ]),
        html.Div(className="alert-form", children=[
            dcc.Textarea(id={"type": "alert-comment-text", "id": alert_id}, placeholder="comment", maxLength=2000,
                         className="alert-input alert-comment-text"),
            html.Button("Comment", id={"type": "alert-comment", "id": alert_id}, n_clicks=0,
                        className="alert-btn alert-comment"),
        ]),
    ])


# --- pieces ------------------------------------------------------------------------------
def clock(t: float | None, tz) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, tz).strftime("%d %b %H:%M:%S")


def severity_badge(severity: str) -> html.Span:
    return html.Span(SEVERITY_LABEL[severity], className=f"sev-badge sev-{severity}")


def state_text(a: dict) -> str:
    if a["state"] == "cleared" and not a["acknowledged"]:
        return "CLEARED · MISSED"
    return STATE_LABEL[a["state"]]


def who_line(a: dict, tz) -> list:
    parts = []
    if a["acknowledged"]:
        parts.append(f"acknowledged by {a['acknowledged_by']} at {clock(a['acknowledged_at'], tz)}")
    else:
        parts.append("not acknowledged")
    if a.get("assignee"):
        parts.append(f"assigned to {a['assignee']}")
    if a.get("escalations"):
        parts.append(f"escalated ×{a['escalations']} (raised {a['base_severity']})")
    if a.get("comments"):
        n = len(a["comments"])
        parts.append(f"{n} comment{'s' if n != 1 else ''}")
    return parts


def ack_button(a: dict) -> html.Button:
    return html.Button("Acknowledge", id={"type": "alert-ack", "id": a["id"]}, n_clicks=0, className="alert-btn ack")


def alert_row(a: dict, now: float, tz, can_act: bool) -> html.Div:
    actions = []
    if can_act and not a["acknowledged"] and a["state"] != "cleared":
        actions.append(ack_button(a))
    actions.append(dcc.Link("details", href=f"/alerts?alert={quote(a['id'])}", className="alert-link"))
    actions.append(dcc.Link("open its view →", href=a.get("view") or "/", className="alert-link"))
    return html.Div(id=f"alert-{a['id']}", className=f"alert-row sev-{a['severity']} state-{a['state']}", children=[
        html.Div(className="alert-main", children=[
            html.Div(className="alert-head", children=[
                severity_badge(a["severity"]),
                html.Span(a["title"], className="alert-title"),
                html.Span(state_text(a), className=f"alert-state state-word-{a['state']}"),
            ]),
            html.Div(a["message"], className="alert-message"),
            html.Div(className="alert-meta", children=[
                html.Span(f"raised {format_age(now - a['raised_at'])}", className="alert-age"),
                *[html.Span(p) for p in who_line(a, tz)],
            ]),
        ]),
        html.Div(actions, className="alert-actions"),
    ])


def cleared_row(a: dict, now: float, tz) -> html.Tr:
    missed = not a["acknowledged"]
    return html.Tr(className="missed" if missed else "", children=[
        html.Td(severity_badge(a["severity"])),
        html.Td(dcc.Link(a["title"], href=f"/alerts?alert={quote(a['id'])}")),
        html.Td(a["message"], className="muted"),
        html.Td(clock(a["raised_at"], tz)),
        html.Td(f"cleared {format_age(now - a['cleared_at'])}" if a.get("cleared_at") else ""),
        html.Td(html.Span("MISSED", className="missed-flag", title="cleared without anyone acknowledging it")
                if missed else f"ack {a['acknowledged_by']}"),
    ])


def render_list(open_alerts: list[dict], cleared: list[dict], now: float, tz, can_act: bool) -> list:
    if open_alerts:
        top = [html.Div([alert_row(a, now, tz, can_act) for a in open_alerts], id="alerts-open", className="alert-list")]
    else:
        top = [html.P("No open alerts.", id="alerts-open", className="alerts-none")]
    table = html.Table(id="alerts-cleared", className="table", children=[
        html.Thead(html.Tr([html.Th(h) for h in ("severity", "alert", "message", "raised", "cleared", "acknowledged")])),
        html.Tbody([cleared_row(a, now, tz) for a in cleared])]) if cleared else html.P(
        "Nothing cleared recently.", className="muted", id="alerts-cleared")
    return [html.H2(f"Open ({len(open_alerts)})"), *top,
            html.Section(className="panel alerts-cleared-panel", children=[html.H3("Recently cleared"), table])]


def render_detail(a: dict | None, audit: list[dict], now: float, tz, can_act: bool, alert_id: str) -> list:
    if a is None:
        return [html.P(f"No alert {alert_id}: it may have been forgotten (cleared alerts are kept 30 days).",
                       className="alerts-none", id="alert-detail")]
    facts = [("severity", severity_badge(a["severity"])), ("state", state_text(a)),
             ("raised", f"{clock(a['raised_at'], tz)} ({format_age(now - a['raised_at'])})"),
             ("acknowledged", f"by {a['acknowledged_by']} at {clock(a['acknowledged_at'], tz)}"
              if a["acknowledged"] else "no"),
             ("assignee", a.get("assignee") or "—"),
             ("escalations", f"{a['escalations']} (raised as {a['base_severity']})" if a["escalations"] else "0"),
             ("cleared", f"{clock(a['cleared_at'], tz)} by {a['cleared_by']}" if a.get("cleared_at") else "—"),
             ("rule", a["rule"]),
             ("what", a.get("kpi") or (f"feed {a['feed']}" if a.get("feed") else "—")),
             ("where", a.get("district") or "whole city")]
    rows = [html.Tr([html.Th(k), html.Td(v, id=f"alert-fact-{k}")]) for k, v in facts]
    actions = [dcc.Link("open its view →", href=a.get("view") or "/", className="alert-link")]
    if can_act and not a["acknowledged"] and a["state"] != "cleared":
        actions.insert(0, ack_button(a))
    comments = [html.Li([html.Span(f"{clock(c['at'], tz)} {c['by']}: ", className="muted"), c["text"]])
                for c in a.get("comments", [])]
    trail = [html.Tr([html.Td(clock(e["at"], tz)), html.Td(ACTION_LABEL.get(e["action"], e["action"])),
                      html.Td(e["by"]), html.Td(_detail_text(e), className="muted")]) for e in audit]
    return [html.Div(id="alert-detail", className=f"alert-detail sev-{a['severity']}", children=[
        html.Div(className="alert-head", children=[severity_badge(a["severity"]),
                                                   html.Span(a["title"], className="alert-title")]),
        html.P(a["message"], className="alert-message"),
        html.Div(actions, className="alert-actions"),
        html.Table(html.Tbody(rows), className="table alert-facts"),
        html.Section(className="panel", children=[
            html.H3("Comments"),
            html.Ul(comments, id="alert-comments") if comments else html.P("No comments.", className="muted",
                                                                          id="alert-comments")]),
        html.Section(className="panel", children=[
            html.H3("Audit trail"),
            html.Table(id="alert-audit", className="table", children=[
                html.Thead(html.Tr([html.Th(h) for h in ("when", "what", "who", "detail")])),
                html.Tbody(trail)])]),
    ])]


def _detail_text(e: dict) -> str:
    d = e.get("detail") or {}
    if e["action"] == "escalated":
        return f"{d.get('from')} → {d.get('to')} after {d.get('unacknowledged_s')} s unacknowledged"
    if e["action"] == "assigned":
        return f"{d.get('from') or 'nobody'} → {d.get('to') or 'nobody'}"
    if e["action"] == "commented":
        return d.get("text", "")
    if e["action"] == "cleared":
        return d.get("reason", "")
    if e["action"] == "raised":
        return d.get("message", "")
    return ""


def alerts_panel(alerts: list[dict], now: float, tz=None, compact: bool = True, title: str = "Active alerts",
                 empty: str = "No open alerts.") -> html.Div:
    """The open alerts in a few wall-readable lines (overview, district page): severity as colour and word,
    title, age, acknowledged or not; each links to its drill-down on /alerts."""
    if not alerts:
        return html.Div(className="alerts-panel empty", children=[html.H3(title), html.P(empty, className="muted")])
    items = []
    for a in alerts:
        line = [severity_badge(a["severity"]),
                dcc.Link(a["title"], href=f"/alerts?alert={quote(a['id'])}", className="alert-title"),
                html.Span(f"{format_age(now - a['raised_at'])}", className="alert-age"),
                html.Span("ACK" if a["acknowledged"] else "NOT ACK", className=f"ack-word ack-{a['acknowledged']}".lower())]
        if not compact:
            line.append(html.Div(a["message"], className="alert-message"))
        items.append(html.Li(line, className=f"alerts-panel-row sev-{a['severity']}"))
    return html.Div(className="alerts-panel", children=[html.H3(f"{title} ({len(alerts)})"),
                                                         html.Ul(items, className="alerts-panel-list")])


# --- admin: the rules (slot "admin-rules" on /admin) ------------------------------------------
NEW_RULE_EXAMPLE = ('{"id": "aqi-d5", "kpi": "environment.aqi", "district": "D5", '
                    '"when": {"op": ">", "value": 100}, "severity": "major"}')


def rules_skeleton() -> list:
    return [
        dcc.Store(id="admin-rules-poke", data=0),
        html.H3("Alert rules"),
        html.Div(id="admin-rules-msg", className="alerts-msg", role="status"),
        html.Div(id="admin-rules-table"),
        html.Div(className="alert-form", children=[
            dcc.Textarea(id="admin-rule-new", placeholder=NEW_RULE_EXAMPLE, className="alert-input rule-input"),
            html.Button("Add rule", id="admin-rule-add", n_clicks=0, className="alert-btn"),
        ]),
        html.P(["A rule is JSON as in CITY_CONFIG's alerts section (see docs/alerts.md). ",
                "Rules from CITY_CONFIG are changed in the file; here they can only be disabled."],
               className="muted"),
    ]


def rule_text(rule, escalate_default: float) -> str:
    """A rule in a line: "emergency.turnout_p90_s breach for 60 s, every district" etc."""
    esc = escalate_default if rule.escalate_after_s is None else rule.escalate_after_s
    tail = f"; escalates every {esc:,.0f} s" if esc else "; never escalates"
    if rule.kind == "feed":
        which = "any feed" if rule.feed == "*" else f"feed {rule.feed}"
        return f"{which} with no data for {rule.no_data_s:,.0f} s{tail}"
    when = rule.when if isinstance(rule.when, str) else f"{rule.when.op} {rule.when.value:g}"
    if when == "warn":
        when = "warn or breach"
    where = {None: "city-wide", "*": "every district"}.get(rule.district, f"district {rule.district}")
    hold = f" for {rule.for_s:,.0f} s" if rule.for_s else ""
    return f"{rule.kpi} {when}{hold}, {where}{tail}"


def rules_table(entries: list[dict], open_alerts: list[dict], audit: list[dict], escalate_default: float, tz) -> list:
    open_by_rule: dict[str, int] = {}
    for a in open_alerts:
        open_by_rule[a["rule"]] = open_by_rule.get(a["rule"], 0) + 1
    rows = []
    for e in entries:
        rule = e["rule"]
        state = "enabled" if e["enabled"] else "disabled"
        if e["disabled"]:
            state += f" by {e['disabled'].get('by')} at {clock(e['disabled'].get('at'), tz)}"
        source = "CITY_CONFIG" if e["source"] == "config" else (
            f"added by {e['added']['by']} at {clock(e['added']['at'], tz)}" if e["added"] else "runtime")
        actions = [html.Button("Disable" if e["enabled"] else "Enable", id={"type": "rule-toggle", "id": rule.id},
                               n_clicks=0, className="alert-btn")]
        if e["source"] == "runtime":
            actions.append(html.Button("Delete", id={"type": "rule-delete", "id": rule.id}, n_clicks=0,
                                       className="alert-btn danger"))
        n_open = open_by_rule.get(rule.id, 0)
        rows.append(html.Tr(id=f"rule-row-{rule.id}", className="" if e["enabled"] else "rule-off", children=[
            html.Td(rule.id), html.Td(severity_badge(rule.severity)), html.Td(rule_text(rule, escalate_default)),
            html.Td(source, className="muted"), html.Td(state),
            html.Td(f"{n_open} open" if n_open else "quiet"), html.Td(actions)]))
    trail = [html.Li(f"{clock(a['at'], tz)} {a['by']} {a['action']} {a['rule']}") for a in audit]
    return [html.Table(className="table rules-table", children=[
        html.Thead(html.Tr([html.Th(h) for h in ("rule", "severity", "condition", "source", "state", "alerts", "")])),
        html.Tbody(rows)]),
        html.Details([html.Summary("Rule changes"), html.Ul(trail, id="rule-audit")]) if trail else None]
