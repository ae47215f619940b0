/* When the server stops accepting this page's session (signed out, expired, a revoked kiosk), reload:
   the server then shows the sign-in page or says why the screen is signed out. Only a 401 from a Dash
   request does this; every other failure is left to the page (offline banner, last picture kept). */
(function () {
  if (!window.fetch || window.__citybrainSession) { return; }
  window.__citybrainSession = true;
  var original = window.fetch, reloading = false;
  window.fetch = function (input, init) {
    return original.apply(this, arguments).then(function (response) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      // A wall never reloads into a sign-in form: it keeps its picture and says so itself (assets/wall.js).
      var wall = document.getElementById("wall");
      if (response.status === 401 && url.indexOf("/_dash-") >= 0 && !reloading && !wall) {
        reloading = true;
        window.location.reload();
      }
      return response;
    });
  };
})();
