/* Coverdesk Connect: embeds the hosted Connect page in an integrator's site.
 *
 *   <script src="https://<api host>/c/sdk.js"></script>
 *   const connect = CoverdeskConnect.create({
 *     publicAlias: "your-alias",          // required
 *     token: "ct_...",                    // from POST /teams/{teamId}/connectTokens (your backend)
 *     pullMetaData: {...},                // only without a token (the token carries its own)
 *     mount: "#where",                    // an element or selector; left out: a modal
 *     onAuthenticationSuccess(data) {},   // data.pull: {pull_id, status, meta_data, servicing_actions}
 *     onComplete(data) {},                // the final outcome of every action
 *     onExit(data) {},                    // the consumer closed it
 *     onSectionViewed(data) {},           // data.section: the screen shown
 *     onError(data) {},                   // data.type: expired | provider | validation | ...
 *   });
 *   connect.open();  connect.close();  connect.destroy();
 *
 * The page runs in an iframe of the API's own origin; events arrive by postMessage, accepted only
 * from that frame and that origin, and the page sends them only to this page's origin. The token
 * travels in the frame's URL fragment, which no server and no Referer ever sees. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? new URL(".", script.src) : new URL("/c/", location.href);

  function element(mount) {
    if (!mount) return null;
    if (typeof mount === "string") return document.querySelector(mount);
    return mount;
  }

  function create(options) {
    options = options || {};
    if (!options.publicAlias || !/^[A-Za-z0-9_-]{1,64}$/.test(options.publicAlias)) {
      throw new Error("CoverdeskConnect.create: publicAlias is required");
    }
    if (options.token && options.pullMetaData) {
      throw new Error("CoverdeskConnect.create: a token carries its own meta data; leave pullMetaData out");
    }
    var listeners = {};
    var frame = null;
    var overlay = null;
    var mountAt = element(options.mount);
    var previousFocus = null;

    function emit(type, data) {
      var callback = options["on" + type.charAt(0).toUpperCase() + type.slice(1)];
      if (typeof callback === "function") callback(data);
      (listeners[type] || []).forEach(function (f) { f(data); });
    }

    function onMessage(e) {
      if (!frame || e.source !== frame.contentWindow || e.origin !== base.origin) return;
      var m = e.data;
      if (!m || m.source !== "coverdesk-connect" || typeof m.type !== "string") return;
      if (m.type === "ready" && options.pullMetaData && !options.token) {
        frame.contentWindow.postMessage({ source: "coverdesk-sdk", type: "meta", data: options.pullMetaData }, base.origin);
        return;
      }
      if (m.type === "exit") handler.close();
      emit(m.type, m.data || {});
    }

    function build() {
      var params = new URLSearchParams();
      if (options.token) params.set("connect_token", options.token);
      params.set("origin", location.origin);
      frame = document.createElement("iframe");
      frame.src = new URL(encodeURIComponent(options.publicAlias), base).toString() + "#" + params.toString();
      frame.title = options.title || "Connect your insurance account";
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.style.cssText = "border:0;width:100%;height:100%;min-height:36rem;display:block;background:#f2f4f7";
      window.addEventListener("message", onMessage);
    }

    var handler = {
      open: function () {
        if (frame) return handler;
        build();
        if (mountAt) {
          mountAt.appendChild(frame);
          return handler;
        }
        previousFocus = document.activeElement;
        overlay = document.createElement("div");
        overlay.setAttribute("role", "dialog");
        overlay.setAttribute("aria-modal", "true");
        overlay.setAttribute("aria-label", frame.title);
        overlay.style.cssText =
          "position:fixed;inset:0;z-index:2147483000;background:rgba(15,23,42,.6);display:flex;" +
          "align-items:center;justify-content:center;padding:1rem";
        var box = document.createElement("div");
        box.style.cssText = "width:100%;max-width:34rem;height:min(44rem,100%);border-radius:.75rem;overflow:hidden";
        box.appendChild(frame);
        overlay.appendChild(box);
        document.body.appendChild(overlay);
        frame.focus();
        return handler;
      },
      close: function () {
        window.removeEventListener("message", onMessage);
        if (overlay) overlay.remove();
        else if (frame) frame.remove();
        overlay = null;
        frame = null;
        if (previousFocus && previousFocus.focus) previousFocus.focus();
        return handler;
      },
      destroy: function () {
        handler.close();
        listeners = {};
        emit("destroy", {});
      },
      mount: function (where) {
        mountAt = element(where);
        handler.close();
        return handler.open();
      },
      on: function (type, f) {
        (listeners[type] = listeners[type] || []).push(f);
        return handler;
      },
    };
    if (mountAt) handler.open();
    return handler;
  }

  window.CoverdeskConnect = { create: create };
})();
