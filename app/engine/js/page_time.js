// framecast page time: injected into every frame right after virtual_time.js, before any page script.
// Makes timeline-free motion follow the virtual clock, frame-exactly, in this frame and in its
// same-origin child frames:
//   - every seek also seeks this frame's CSS animations, CSS transitions and WAAPI animations that
//     the HyperFrames runtime does not drive (those it drives are already paused when we look), and
//     SVG (SMIL) animation, then seeks each same-origin child frame the same way;
//   - document.timeline.currentTime reads the virtual clock;
//   - pending one-shot timers are counted, so readiness can tell a page that is still setting itself
//     up (a timeline registered from a setTimeout) from one that has gone quiet;
//   - window.__hfD3 (the runtime's d3 registry) reads empty, so readiness never waits for d3 transitions.
// Animations are paused and given currentTime = (now - birth) * playbackRate, where birth is the
// virtual time the animation was first seen: 0 for those present when the page became ready
// (markBorn), the seek time for those a seek created (a transition started by a rAF callback).
(function () {
  "use strict";
  var clock = window.__FRAMECAST_VIRTUAL_TIME__;
  if (!clock || clock.pageTime) return;

  var births = new WeakMap(); // Animation -> virtual ms it started at
  var driven = new WeakSet(); // Animations we pause and seek
  var pendingTimers = new Set();
  var realSetTimeout = window.setTimeout;
  var realClearTimeout = window.clearTimeout;

  // The HyperFrames runtime (served from /__framecast__/) keeps a long timer of its own: only timers
  // that the page's scripts set say the page is still setting itself up.
  function setByFramecast() {
    var caller = (new Error().stack || "").split("\n")[3] || "";
    return caller.indexOf("/__framecast__/") !== -1;
  }

  window.setTimeout = function (handler) {
    var args = Array.prototype.slice.call(arguments);
    if (typeof handler === "function") {
      args[0] = function () {
        pendingTimers.delete(id);
        return handler.apply(this, arguments);
      };
    }
    var id = realSetTimeout.apply(window, args);
    // A string handler cannot be wrapped to report that it ran: leave it uncounted.
    if (typeof handler === "function" && !setByFramecast()) pendingTimers.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    pendingTimers.delete(id);
    return realClearTimeout.call(window, id);
  };

  // The runtime's d3 adapter only holds readiness until every transition registered on window.__hfD3
  // has ended: with the clock frozen until the first seek, never. d3 follows the virtual clock without
  // it (requestAnimationFrame, performance.now, and the bridge's d3.timerFlush on each seek), so the
  // registry always reads empty: pages may still assign or push to it.
  try {
    Object.defineProperty(window, "__hfD3", {
      get: function () { return []; },
      set: function () {},
      configurable: true,
    });
  } catch (error) {
    // Already defined by something earlier in this frame: leave it.
  }

  try {
    Object.defineProperty(document.timeline, "currentTime", { get: clock.now, configurable: true });
  } catch (error) {
    // A browser without a configurable timeline keeps its own clock; animations are still seeked.
  }

  function animations() {
    try {
      return typeof document.getAnimations === "function" ? document.getAnimations() : [];
    } catch (error) {
      return [];
    }
  }

  function markBorn(ms) {
    animations().forEach(function (animation) {
      if (!births.has(animation)) births.set(animation, ms);
    });
  }

  function seekAnimation(animation, ms) {
    if (!births.has(animation)) births.set(animation, ms);
    var local = (ms - births.get(animation)) * (animation.playbackRate || 1);
    var timing = animation.effect ? animation.effect.getComputedTiming() : null;
    var end = timing ? Number(timing.endTime) : Infinity;
    // finish() (not a paused seek) at the end, so onfinish handlers and `finished` chains still run.
    if (Number.isFinite(end) && local >= end && animation.playbackRate > 0) {
      if (animation.playState !== "finished") animation.finish();
      return;
    }
    animation.pause();
    animation.currentTime = Math.max(0, local);
  }

  function seekAnimations(ms) {
    animations().forEach(function (animation) {
      // A paused animation we do not drive belongs to the runtime's adapters or to the page itself.
      if (!driven.has(animation) && animation.playState === "paused") return;
      driven.add(animation);
      try {
        seekAnimation(animation, ms);
      } catch (error) {
        console.error(error);
      }
    });
  }

  function seekSvg(ms) {
    document.querySelectorAll("svg").forEach(function (svg) {
      if (svg.ownerSVGElement !== null || typeof svg.setCurrentTime !== "function") return;
      if (!svg.querySelector("animate, set, animateMotion, animateTransform")) return;
      svg.pauseAnimations();
      svg.setCurrentTime(ms / 1000);
    });
  }

  function childClocks() {
    var clocks = [];
    for (var i = 0; i < window.frames.length; i++) {
      try {
        var child = window.frames[i].__FRAMECAST_VIRTUAL_TIME__;
        if (child && child.pageTime) clocks.push(child);
      } catch (error) {
        // A cross-origin frame: its clocks are out of reach (and out of the project).
      }
    }
    return clocks;
  }

  var seekClock = clock.seekToTime;
  clock.seekToTime = function (ms) {
    seekClock(ms);
    seekAnimations(ms);
    seekSvg(ms);
    childClocks().forEach(function (child) { child.seekToTime(ms); });
  };
  clock.pageTime = {
    markBorn: function (ms) {
      markBorn(ms);
      childClocks().forEach(function (child) { child.pageTime.markBorn(ms); });
    },
    pendingTimers: function () {
      return childClocks().reduce(function (count, child) {
        return count + child.pageTime.pendingTimers();
      }, pendingTimers.size);
    },
  };
})();
