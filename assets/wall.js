/* City Brain in the browser: is the server still answering, and the wall's rotation, banners and clock.

   Loaded on every page (Dash serves every file in assets/). Two parts:
   1. A watch on the app's callback requests: when the server last answered, and whether it refused
      this screen (401: signed out, e.g. a revoked kiosk token). A dead or hung server sends nothing,
      so "no answer for a while" is what the banners test; the Dash renderer keeps polling on its
      tick and the first answer after an outage clears them, without a reload.
   2. Clientside callbacks (namespace "wall" and "connection"), run every second by the shell's
      clock-tick interval, which needs no server.
*/
(function () {
  var cb = window.cityBrain = window.cityBrain || {};
  cb.lastAnswer = Date.now();  // page load counts as an answer
  cb.refused = null;
  cb.skew = 0;                 // server clock minus browser clock, ms (from the wall's status)

  function isCallback(input) {
    var url = typeof input === 'string' ? input : (input && input.url) || '';
    return url.indexOf('_dash-update-component') >= 0;
  }

  // On the wall the desk's top bar and thin banner are hidden (wall.css) and the wall's own status
  // callback says all they would (Redis, stale data, alerts): their callbacks, two of a wall screen's
  // five requests a tick, are answered here with "nothing new" (204) and never reach the server.
  // bench/screens.py reads this list to do the same.
  var WALL_LOCAL = ['..conn.children...', '..alert-badge.children...'];
  function answeredHere(input, init) {
    if (!isCallback(input) || window.location.pathname.replace(/\/+$/, '') !== '/wall') { return false; }
    var body = init && typeof init.body === 'string' ? init.body : '';
    return WALL_LOCAL.some(function (output) { return body.indexOf('"output":"' + output) === 1; });
  }

  if (window.fetch && !window.fetch.cityBrainWatched) {
    var fetchBefore = window.fetch;
    var watched = function (input, init) {
      if (answeredHere(input, init)) { return Promise.resolve(new Response(null, {status: 204})); }
      var pending = fetchBefore.apply(this, arguments);
      if (!isCallback(input)) { return pending; }
      return pending.then(function (resp) {
        var loginPage = resp.redirected && !isCallback(resp.url);
        if (resp.status === 401 || loginPage) {
          cb.refused = {at: Date.now(), status: resp.status};
        } else if ([502, 503, 504].indexOf(resp.status) < 0) {
          // Any other answer is the app answering (a 204 "nothing new" too; Redis down is its own banner).
          cb.lastAnswer = Date.now();
          cb.refused = null;
        }
        return resp;
      });
    };
    watched.cityBrainWatched = true;
    window.fetch = watched;
  }
  // A tab in the background polls rarely (browsers slow its timers): silence then is ours, not the
  // server's, so the clock restarts when the tab is shown again.
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { cb.lastAnswer = Math.max(cb.lastAnswer, Date.now()); }
  });

  // The wall is designed on a 1920 x 1080 canvas and zoomed to the screen: a 4K screen shows the same
  // picture twice as large (text, map legends and all), so it reads the same from across the room.
  function fitWall() {
    var z = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    document.documentElement.style.setProperty('--wall-zoom', String(Math.max(0.4, z)));
  }
  fitWall();
  window.addEventListener('resize', fitWall);

  // Figures on the wall: plotly draws legends, colour bars and annotations in fixed pixels (13 px
  // legends) that are sized for a desk. Every figure drawn inside the wall gets its type enlarged
  // by FIGURE_TYPE_SCALE on its way to plotly; the desk pages are left as they are.
  var FIGURE_TYPE_SCALE = 1.6;
  function scaled(size, fallback) { return Math.round((size || fallback) * FIGURE_TYPE_SCALE); }
  function wallLayout(layout) {
    layout = Object.assign({}, layout || {});
    layout.font = Object.assign({}, layout.font, {size: scaled(layout.font && layout.font.size, 12)});
    if (layout.legend) {
      var lf = layout.legend.font || {};
      layout.legend = Object.assign({}, layout.legend, {font: Object.assign({}, lf, {size: scaled(lf.size, 12)})});
    }
    if (Array.isArray(layout.annotations)) {
      layout.annotations = layout.annotations.map(function (a) {
        if (!a || !a.font || !a.font.size) { return a; }
        return Object.assign({}, a, {font: Object.assign({}, a.font, {size: scaled(a.font.size, 12)})});
      });
    }
    return layout;
  }
  function wrapPlotly(P) {
    if (!P || P.cityBrainWall) { return P; }
    ['react', 'newPlot'].forEach(function (name) {
      var original = P[name];
      if (typeof original !== 'function') { return; }
      P[name] = function (gd, data, layout, config) {
        var el = typeof gd === 'string' ? document.getElementById(gd) : gd;
        if (!(el && el.closest && el.closest('.wall-view'))) { return original.apply(this, arguments); }
        if (data && !Array.isArray(data) && typeof data === 'object') {  // (gd, {data, layout, config, frames})
          arguments[1] = Object.assign({}, data, {layout: wallLayout(data.layout)});
        } else {
          arguments[2] = wallLayout(layout);
        }
        var drawing = original.apply(this, arguments);
        // The wall replaces its view while a figure may still be drawing (plotly finishes a map
        // asynchronously); a figure whose view has gone has nothing left to draw on.
        return drawing && drawing.catch ? drawing.catch(function (err) {
          if (el.isConnected && el._fullLayout) { throw err; }
        }) : drawing;
      };
    });
    P.cityBrainWall = true;
    return P;
  }
  // A page re-rendered while its map was still drawing (a layer toggle rewrites the address, and the
  // router draws the page again): plotly's map waits for its tiles' style, and when it goes on drawing
  // the figure it was given has been purged, so it reads its private fields ("_rangeSliderData") off
  // nothing, and its draw's promise rejects with no one to catch it (on the wall, wrapPlotly below
  // catches it). The new page's map draws by itself; only this rejection, from plotly's own code
  // reading an underscore field of a removed figure, is kept out of the console.
  var TEARDOWN = /Cannot read properties of (undefined|null) \(reading '_[A-Za-z]+'\)/;
  window.addEventListener('unhandledrejection', function (e) {
    var err = e && e.reason;
    if (err && TEARDOWN.test(String(err.message || '')) && String(err.stack || '').indexOf('plotly') >= 0) {
      e.preventDefault();
    }
  });

  // plotly.js loads after this file (dcc.Graph fetches it on first use): catch it as it arrives.
  var plotlyNow = wrapPlotly(window.Plotly);
  try {
    Object.defineProperty(window, 'Plotly', {
      configurable: true,
      get: function () { return plotlyNow; },
      set: function (value) { plotlyNow = wrapPlotly(value); }
    });
  } catch (e) { /* already defined and locked: leave figures at their desk size */ }

  function unreachableAfterMs(tickMs) {
    return Math.max(4 * (tickMs || 5000), 10000);
  }

  function timeIn(tz, epochMs) {
    try {
      return new Intl.DateTimeFormat('en-GB', {timeZone: tz || undefined, hour: '2-digit', minute: '2-digit',
        second: '2-digit', hour12: false}).format(new Date(epochMs));
    } catch (e) {
      return new Date(epochMs).toISOString().substr(11, 8);
    }
  }

  function ago(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 60) { return 'under a minute'; }
    if (seconds < 5400) { return Math.floor(seconds / 60) + ' min'; }
    return (seconds / 3600).toFixed(1) + ' h';
  }

  function serverNowMs() { return Date.now() + (cb.skew || 0); }

  function queryString(query) {
    var keys = Object.keys(query || {}).sort();
    return keys.map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(query[k]); }).join('&');
  }

  function serverSilence(tickMs) {
    var silent = Date.now() - cb.lastAnswer;
    return silent > unreachableAfterMs(tickMs) ? silent : 0;
  }

  // Ages keep counting between data. A page re-sends its maps and tables only when new data arrives,
  // so an "as of 5 s ago" drawn then would stay "5 s ago" on a wall for as long as nothing new comes.
  // Each second, every "N s / min / h / days ago" inside the wall's view is counted on from when the
  // server drew it; the next render from the server replaces it (and is counted on from then). An
  // element that says the time its age counts from (data-asof, an ISO time: a part drawn once for
  // every screen, up to a slot of the clock before it reached this one) is counted from that time, in
  // the server's clock.
  var AGE = /^([\s\S]*?)(\d+(?:\.\d+)?) (s|min|h|days) ago([\s\S]*)$/;
  var UNIT_S = {s: 1, min: 60, h: 3600, days: 86400};
  var drawn = new WeakMap();  // text node -> {written, base_s, seen_ms}
  function formatAge(s) {  // as dashboard.components.format_age
    if (s < 90) { return Math.round(s) + ' s ago'; }
    if (s < 5400) { return Math.round(s / 60) + ' min ago'; }
    if (s < 2 * 86400) { return (s / 3600).toFixed(1) + ' h ago'; }
    return Math.round(s / 86400) + ' days ago';
  }
  function countAges(root) {
    if (!root) { return; }
    var now = Date.now();
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var text = node.nodeValue;
      var seen = drawn.get(node);
      if (!seen || seen.written !== text) {  // drawn by the server just now
        var m = AGE.exec(text);
        if (!m) { drawn.delete(node); continue; }
        seen = {written: text, base_s: parseFloat(m[2]) * UNIT_S[m[3]], seen_ms: now, head: m[1], tail: m[4]};
        var owner = node.parentElement && node.parentElement.closest('[data-asof]');
        var asof = owner ? Date.parse(owner.getAttribute('data-asof')) : NaN;
        if (!isNaN(asof)) { seen.base_s = Math.max(0, (serverNowMs() - asof) / 1000); }
        drawn.set(node, seen);
        if (isNaN(asof)) { continue; }
      }
      var next = seen.head + formatAge(seen.base_s + (now - seen.seen_ms) / 1000) + seen.tail;
      if (next !== text) {
        node.nodeValue = next;
        seen.written = next;
      }
    }
  }

  var exports = {
    unreachableAfterMs: unreachableAfterMs,
    ago: ago,

    /* Each second: which view the wall shows. A pinned critical alert holds its view; otherwise
       each playlist item stays for its interval_s. Sends a new "current" only when the view changes
       (the server renders then, and only then). */
    rotate: function (n, status, playlist, state) {
      var nu = window.dash_clientside.no_update;
      if (!playlist || !playlist.length) { return [nu, nu, nu, nu, nu, nu]; }
      var now = Date.now();
      if (status && status.now && status.now !== cb.statusNow) {
        cb.statusNow = status.now;
        cb.skew = status.now * 1000 - now;
      }
      state = Object.assign({index: 0, since: now, key: null, seq: 0, pinned: null}, state || {});
      var alert = status && status.alert;
      var target, position, strip = '', stripClass = 'wall-strip hidden';
      if (alert && alert.pin) {
        target = alert.pin;
        state.pinned = alert.id;
        position = 'PINNED';
        var raised = serverNowMs() / 1000 - alert.raised_at;
        strip = 'CRITICAL · ' + alert.title + ' · ' + alert.message + ' · raised ' + ago(raised) +
                ' ago · pinned until acknowledged';
        stripClass = 'wall-strip';
      } else {
        if (state.pinned) {  // acknowledged or cleared: the interrupted view gets its full interval again
          state.pinned = null;
          state.since = now;
        }
        state.index = state.index % playlist.length;
        if (now - state.since >= playlist[state.index].interval_s * 1000) {
          state.index = (state.index + 1) % playlist.length;
          state.since = now;
        }
        target = playlist[state.index];
        position = (state.index + 1) + ' / ' + playlist.length;
      }
      var key = target.path + '?' + queryString(target.query);
      var current = nu;
      if (key !== state.key) {
        state.key = key;
        state.seq = (state.seq || 0) + 1;
        current = {key: key, seq: state.seq, path: target.path, query: target.query || {}, title: target.title,
                   pinned: !!(alert && alert.pin)};
      }
      return [state, current, target.title, position, strip, stripClass];
    },

    /* Each second: the full-screen banner over the (dimmed) last picture, most serious first. */
    overlay: function (n, status, settings, tickMs, tz) {
      var hidden = ['wall-overlay hidden', '', '', ''];
      if (cb.refused) {
        return ['wall-overlay revoked', "This screen's access was revoked",
                'Ask an administrator for a new wall link.', 'The server refused this screen (HTTP ' +
                cb.refused.status + ') at ' + timeIn(tz, cb.refused.at) + '.'];
      }
      var silent = serverSilence(tickMs);
      if (silent) {
        return ['wall-overlay', 'SERVER UNREACHABLE',
                'No answer from the City Brain server since ' + timeIn(tz, cb.lastAnswer) + ' (' +
                ago(silent / 1000) + ').',
                'Showing the last picture. Reconnecting automatically…'];
      }
      if (!status) { return hidden; }
      if (status.redis === false) {
        var since = status.redis_ok_at ? timeIn(tz, status.redis_ok_at * 1000) : 'the start';
        var down = status.redis_ok_at ? ' (' + ago(serverNowMs() / 1000 - status.redis_ok_at) + ')' : '';
        return ['wall-overlay', 'DATA SOURCE UNREACHABLE',
                'The data store (Redis) has not answered since ' + since + down + '.',
                'Showing the last picture. Reconnecting automatically…'];
      }
      if (status.stale) {
        var when = status.stale.since ? timeIn(tz, status.stale.since * 1000) + ' (' +
                   ago(serverNowMs() / 1000 - status.stale.since) + ' ago)' : 'the start';
        return ['wall-overlay', 'DATA STALE', 'No new data since ' + when + ': ' + status.stale.reason + '.',
                'Showing the last figures; they are not live.'];
      }
      return hidden;
    },

    /* The big clock, every second, in the city's time zone (and the view's ages counted on). */
    clock: function (n, tz) {
      countAges(document.getElementById('wall-view'));
      var d = new Date();
      var date;
      try {
        date = new Intl.DateTimeFormat('en-GB', {timeZone: tz || undefined, weekday: 'short', day: '2-digit',
          month: 'short'}).format(d);
      } catch (e) {
        date = '';
      }
      return [timeIn(tz, d.getTime()), date.replace(',', '')];
    }
  };

  var connection = {
    /* The desk shell's thin banner when the web server stops answering. */
    desk: function (n, tickMs, tz) {
      var silent = serverSilence(tickMs);
      if (!silent) { return ['', 'banner hidden']; }
      return ['Server unreachable: no answer since ' + timeIn(tz, cb.lastAnswer) + ' (' + ago(silent / 1000) +
              '). Showing the last picture. Reconnecting automatically…', 'banner'];
    }
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {wall: exports, connection: connection});
})();
