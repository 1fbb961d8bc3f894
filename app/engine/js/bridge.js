// framecast bridge: injected before </body>, after the HyperFrames runtime (end of <head>) and the page.
// Exposes the engine protocol on window.__hf:
//   duration          seconds, 0 until the runtime says it is ready to render
//   seek(t)           seek the runtime and virtual time to t seconds; resolves when the page settled
//   readiness()       {waiting, timelines, busy}: what the engine still waits for (runtime, images,
//                     fonts), the compositions without a registered timeline, and why the page is
//                     not idle yet (document loading, pending timers); all empty = ready
//   settle(firstFrames)  once ready: size each <video> from its first extracted frame (as its metadata
//                     would), decode images, let fonts finish, mark running animations as born at 0
//   timelineDriven()  true when every composition registered a timeline (none is timeline-free)
//   showVideoFrames(frames)  lay extracted video frames over their hidden <video> elements
//   prepareComposite() / resolveComposite()  drive @hyperframes/shader-transitions' page-side
//                     compositor on a frame inside a shader transition: prepare (clone both scenes into
//                     HTML-in-canvas staging canvases) resolves true when the engine must let Chrome paint
//                     them, then resolve draws them through the shader onto the overlay canvas
(function () {
  "use strict";
  var clock = window.__FRAMECAST_VIRTUAL_TIME__;
  var overlays = {};

  function player() {
    return window.__player && typeof window.__player.renderSeek === "function" ? window.__player : null;
  }

  function duration() {
    var p = player();
    if (!p || window.__renderReady !== true) return 0;
    var value = Number(p.getDuration());
    return Number.isFinite(value) && value > 0 ? value : 0;
  }

  function pendingTimelines() {
    var timelines = window.__timelines || {};
    var missing = [];
    document.querySelectorAll("[data-composition-id]").forEach(function (el) {
      if (el.hasAttribute("data-no-timeline")) return;
      var id = el.getAttribute("data-composition-id");
      if (!timelines[id]) missing.push(id);
    });
    return missing;
  }

  function pendingImages() {
    var pending = [];
    document.querySelectorAll("img").forEach(function (img) {
      if (img.classList.contains("__framecast_video_frame__")) return;
      if (img.getAttribute("src") && !img.complete) pending.push(img.getAttribute("src"));
    });
    return pending;
  }

  function readiness() {
    var waiting = [];
    if (!player()) waiting.push("runtime player");
    else if (window.__renderReady !== true) waiting.push("runtime render readiness");
    else if (duration() <= 0) waiting.push("a duration above 0");
    pendingImages().forEach(function (src) { waiting.push("image " + src); });
    if (document.fonts && document.fonts.status !== "loaded") waiting.push("fonts");
    // The compositor hooks window.__hf.seek from a 50 ms poll; a frame seeked before that shows no blend.
    if (typeof window.__hf_page_composite_prepare === "function" && window.__hf.seek === seek) {
      waiting.push("shader transition compositor");
    }
    var busy = [];
    if (document.readyState !== "complete") busy.push("document " + document.readyState);
    var timers = clock.pageTime ? clock.pageTime.pendingTimers() : 0;
    if (timers > 0) busy.push(timers + " pending setTimeout" + (timers > 1 ? "s" : ""));
    return { waiting: waiting, timelines: pendingTimelines(), busy: busy };
  }

  // Until its metadata loads (when Chrome gets to it), a <video> is laid out at 300x150: give each one
  // the size its first extracted frame has, as attributes the author left out, before any frame.
  function pinVideoSize(video, url) {
    var probe = new Image();
    probe.src = url;
    return probe.decode().then(function () {
      var w = probe.naturalWidth, h = probe.naturalHeight;
      var width = video.getAttribute("width"), height = video.getAttribute("height");
      if (width === null && height === null) {
        video.setAttribute("width", w);
        video.setAttribute("height", h);
      } else if (height === null && Number(width) > 0) {
        video.setAttribute("height", Math.round(Number(width) * h / w));
      } else if (width === null && Number(height) > 0) {
        video.setAttribute("width", Math.round(Number(height) * w / h));
      }
    }).catch(function () {});
  }

  // Every composition drives its picture from a registered timeline (none opted out with
  // data-no-timeline): a frame then depends on the seek time alone, whatever was shown before.
  function timelineDriven() {
    var timelines = window.__timelines || {};
    var roots = document.querySelectorAll("[data-composition-id]");
    return roots.length > 0 && Array.prototype.every.call(roots, function (el) {
      return !el.hasAttribute("data-no-timeline") && Boolean(timelines[el.getAttribute("data-composition-id")]);
    });
  }

  // firstFrames: {videoElementId: url of its first extracted frame}
  async function settle(firstFrames) {
    await Promise.all(Object.keys(firstFrames || {}).map(function (id) {
      var video = document.getElementById(id);
      return video && video.tagName === "VIDEO" ? pinVideoSize(video, firstFrames[id]) : null;
    }));
    var images = Array.prototype.slice.call(document.images).filter(function (img) {
      return img.complete && img.naturalWidth > 0;
    });
    await Promise.all(images.map(function (img) { return img.decode().catch(function () {}); }));
    if (document.fonts) await document.fonts.ready;
    if (typeof window.__hfForceTimelineRebind === "function") window.__hfForceTimelineRebind();
    // Animations already running now started with the page, at virtual time 0.
    if (clock.pageTime) clock.pageTime.markBorn(clock.now());
  }

  async function seek(t) {
    var p = player();
    if (!p) throw new Error("HyperFrames runtime player is not ready");
    p.renderSeek(t);
    clock.seekToTime(t * 1000);
    // d3-timer sleeps on a real setTimeout when its next timer (a delayed transition) is more than 24 ms
    // away, so a seek's rAF flush does not wake it: run its due timers at the seek time ourselves.
    if (window.d3 && typeof window.d3.timerFlush === "function") window.d3.timerFlush();
    if (typeof window.__hfWaitForSeekCompletion === "function") await window.__hfWaitForSeekCompletion();
  }

  async function prepareComposite() {
    if (!window.__hf_page_composite_pending || typeof window.__hf_page_composite_prepare !== "function") {
      return false;
    }
    if ((await window.__hf_page_composite_prepare()) !== true) return false;
    // The clones' images (video frame overlays too) must be decoded before the paint they are drawn from.
    var images = Array.prototype.slice.call(document.querySelectorAll("canvas[layoutsubtree] img"));
    await Promise.all(images.map(function (img) { return img.decode().catch(function () {}); }));
    return true;
  }

  function resolveComposite() {
    if (typeof window.__hf_page_composite_resolve !== "function") return false;
    return window.__hf_page_composite_resolve() === true;
  }

  function overlayFor(video) {
    var id = video.getAttribute("id") || "";
    var img = overlays[id];
    if (!img || !img.isConnected) {
      img = document.createElement("img");
      img.className = "__framecast_video_frame__";
      img.decoding = "sync";
      img.style.position = "absolute";
      img.style.pointerEvents = "none";
      video.insertAdjacentElement("afterend", img);
      overlays[id] = img;
    }
    return img;
  }

  var COPIED_STYLES = ["opacity", "transform", "transformOrigin", "filter", "mixBlendMode", "borderRadius",
    "clipPath", "objectFit", "objectPosition", "zIndex", "boxSizing"];

  function place(img, video) {
    var style = getComputedStyle(video);
    COPIED_STYLES.forEach(function (name) { img.style[name] = style[name]; });
    img.style.left = video.offsetLeft + "px";
    img.style.top = video.offsetTop + "px";
    img.style.width = video.offsetWidth + "px";
    img.style.height = video.offsetHeight + "px";
  }

  // frames: {videoElementId: url or null}. null hides the overlay (the clip is not on screen).
  async function showVideoFrames(frames) {
    var decodes = [];
    Object.keys(frames).forEach(function (id) {
      var video = document.getElementById(id);
      if (!video) return;
      var img = overlayFor(video);
      video.style.setProperty("visibility", "hidden", "important");
      var url = frames[id];
      var visible = url !== null && video.offsetParent !== null;
      img.style.visibility = visible ? "visible" : "hidden";
      if (!visible) return;
      place(img, video);
      if (img.getAttribute("src") !== url) {
        img.setAttribute("src", url);
        decodes.push(img.decode().catch(function () {}));
      }
    });
    await Promise.all(decodes);
  }

  var hf = window.__hf || {};
  // A getter, not a copied value: the duration becomes known only once the runtime is ready.
  Object.defineProperty(hf, "duration", { get: duration, configurable: true, enumerable: true });
  window.__hf = Object.assign(hf, {
    seek: seek,
    settle: settle,
    timelineDriven: timelineDriven,
    readiness: readiness,
    showVideoFrames: showVideoFrames,
    prepareComposite: prepareComposite,
    resolveComposite: resolveComposite,
  });
})();
