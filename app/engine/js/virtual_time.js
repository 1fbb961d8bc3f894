// framecast virtual time: injected first in <head>, before any page script.
// Freezes the page's clocks to the seek time so every frame depends only on its timestamp:
// Date, performance.now and requestAnimationFrame follow the seek; Math.random and
// crypto.getRandomValues are reseeded from the frame time. setTimeout stays native (the runtime
// polls with it). The engine fills in the config object: {fps: {num, den}, variables, epochMs}; the
// rate is an exact fraction (29.97 is 30000/1001). Seek times come from the engine as index * den / num
// (capture.py), never as a running sum of frame intervals, so nothing drifts over long renders.
(function () {
  "use strict";
  var config = __FRAMECAST_CONFIG__;
  var RealDate = window.Date;
  var nowMs = 0;
  var rafQueue = [];
  var rafNextId = 1;
  var seed = 0;

  window.__HF_EXPORT_RENDER_SEEK_CONFIG = { fps: config.fps.num / config.fps.den };
  globalThis.__HF_RENDER_CAPTURE_MODE = true;
  if (config.variables !== null) {
    window.__hfVariables = config.variables;
  }

  function FrozenDate() {
    var args = Array.prototype.slice.call(arguments);
    if (!(this instanceof FrozenDate)) {
      return new RealDate(config.epochMs + nowMs).toString();
    }
    if (args.length === 0) {
      return new RealDate(config.epochMs + nowMs);
    }
    return new (Function.prototype.bind.apply(RealDate, [null].concat(args)))();
  }
  FrozenDate.prototype = RealDate.prototype;
  FrozenDate.now = function () { return config.epochMs + nowMs; };
  FrozenDate.parse = RealDate.parse;
  FrozenDate.UTC = RealDate.UTC;
  window.Date = FrozenDate;

  var realPerformanceNow = performance.now.bind(performance);
  performance.now = function () { return nowMs; };

  var realRaf = window.requestAnimationFrame.bind(window);
  var realCancelRaf = window.cancelAnimationFrame.bind(window);
  window.requestAnimationFrame = function (callback) {
    var id = rafNextId++;
    rafQueue.push({ id: id, callback: callback });
    return id;
  };
  window.cancelAnimationFrame = function (id) {
    rafQueue = rafQueue.filter(function (entry) { return entry.id !== id; });
  };

  // Mulberry32: tiny, fast, and the same sequence in every browser for the same seed.
  function reseed(ms) {
    seed = (Math.floor(ms) * 0x9e3779b9 + 0x6d2b79f5) | 0;
  }
  function nextRandom() {
    seed = (seed + 0x6d2b79f5) | 0;
    var t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  Math.random = nextRandom;
  if (window.crypto && window.crypto.getRandomValues) {
    window.crypto.getRandomValues = function (array) {
      for (var i = 0; i < array.length; i++) {
        array[i] = Math.floor(nextRandom() * 4294967296);
      }
      return array;
    };
  }
  reseed(0);

  window.__FRAMECAST_VIRTUAL_TIME__ = {
    seekToTime: function (ms) {
      nowMs = ms;
      reseed(ms);
      // Callbacks queued during this flush run on the next seek, like a real frame boundary.
      var due = rafQueue;
      rafQueue = [];
      for (var i = 0; i < due.length; i++) {
        try { due[i].callback(nowMs); } catch (error) { console.error(error); }
      }
    },
    now: function () { return nowMs; },
    realPerformanceNow: realPerformanceNow,
    realRequestAnimationFrame: realRaf,
    realCancelAnimationFrame: realCancelRaf,
    RealDate: RealDate,
  };
  // @hyperframes/shader-transitions takes the HyperFrames name of this clock to mean "rendering" (seek-
  // driven, no preview pre-capture), and the second flag to install its page-side WebGL compositor,
  // which capture.py drives per frame (prepare, paint, resolve).
  window.__HF_VIRTUAL_TIME__ = window.__FRAMECAST_VIRTUAL_TIME__;
  window.__HF_PAGE_SIDE_COMPOSITING__ = true;
})();
