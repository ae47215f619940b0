"""The app shell around every page: navigation, clock, connection state, theme, refresh tick."""
from __future__ import annotations

from dash import dcc, html

NAV = [("/", "Overview"), ("/traffic", "Traffic"), ("/transit", "Buses"), ("/emergency", "Emergency"),
       ("/environment", "Environment"), ("/services", "Services"), ("/alerts", "Alerts")]


def nav_links(pathname: str, search: str = "") -> list:
    theme = ""
    if search and "theme=" in search:
        from urllib.parse import parse_qs

        t = parse_qs(search.lstrip("?")).get("theme", [""])[0]
        theme = f"?theme={t}" if t in ("light", "dark") else ""
    from dashboard.auth import current_user, has_role

    items = NAV + ([("/admin", "Admin")] if has_role(current_user(), "admin") else [])  # a courtesy: the server checks
    return [dcc.Link(label, href=href + theme, className="nav-link active" if pathname == href else "nav-link",
                     id=f"nav-{label.lower()}") for href, label in items]


def shell(city_name: str, timezone: str, refresh_ms: int) -> html.Div:
    return html.Div(id="shell", className="shell theme-dark", children=[
        dcc.Location(id="url", refresh="callback-nav"),
        dcc.Store(id="theme", storage_type="local"),
        dcc.Store(id="last-ok"),
        dcc.Store(id="city-tz", data=timezone),
        dcc.Interval(id="tick", interval=refresh_ms, n_intervals=0),
        dcc.Store(id="tick-ms", data=refresh_ms),  # REFRESH_S; the tick runs every second while Redis is down
        dcc.Interval(id="clock-tick", interval=1000, n_intervals=0),  # clientside only: no server cost
        html.Header(className="topbar", children=[
            html.Div([html.Span("City Brain", className="brand-name"),
                      html.Span(city_name, className="brand-city")], className="brand"),
            html.Nav(id="nav", className="nav", children=nav_links("/")),
            html.Div(className="topbar-right", children=[
                html.Span(id="alert-badge", className="alert-badge hidden"),  # filled by callbacks/alerts.py
                html.Div(id="user-badge", className="user-badge"),  # who is signed in; sign out (callbacks/account.py)
                html.Span(id="conn", className="conn conn-live", children="● LIVE"),
                html.Span(id="clock", className="clock"),
                html.Button("◐", id="theme-toggle", className="theme-toggle", title="Dark / light theme", n_clicks=0),
            ]),
        ]),
        html.Div(id="banner", className="banner hidden"),
        # The web server itself not answering: decided in the browser (assets/wall.js), since a dead
        # server cannot say so.
        html.Div(id="server-banner", className="banner hidden"),
        html.Main(id="page", className="page"),
    ])
