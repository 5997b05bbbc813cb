// GET /api/stats polled every 5 s while signed in; the last 15 minutes of its 1-minute window kept for the charts
// (in this tab's session storage, so a reload keeps them).
import {get} from './api.js';

const STORE = 'mas.console.stats';
const SPAN_MS = 15 * 60 * 1000;
const PERIOD_MS = 5000;

class Stats {
  constructor() {
    this.points = load();
    this.latest = null;
    this.error = null;
    this.listeners = new Set();
    this.timer = null;
  }

  start() {
    if (this.timer) return;
    this.poll();
    this.timer = setInterval(() => this.poll(), PERIOD_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  reset() {
    this.points = [];
    sessionStorage.removeItem(STORE);
  }

  subscribe(listener) {
    this.listeners.add(listener);
    if (this.latest || this.error) listener(this);
    return () => this.listeners.delete(listener);
  }

  async poll() {
    try {
      const body = await get('/api/stats');
      const w = body.windows['1m'];
      const now = Date.now();
      this.latest = body;
      this.error = null;
      this.points.push({t: now / 1000, tput: w.throughput_per_s, p50: w.latency_ms.p50, p95: w.latency_ms.p95,
        p99: w.latency_ms.p99, fail: w.failure_rate * 100});
      this.points = this.points.filter(p => p.t * 1000 >= now - SPAN_MS);
      try { sessionStorage.setItem(STORE, JSON.stringify(this.points)); } catch (e) { /* full: keep in memory */ }
    } catch (e) {
      this.error = e;
    }
    this.listeners.forEach(l => l(this));
  }
}

function load() {
  try {
    const points = JSON.parse(sessionStorage.getItem(STORE) || '[]');
    return Array.isArray(points) ? points.filter(p => p.t * 1000 >= Date.now() - SPAN_MS) : [];
  } catch (e) {
    return [];
  }
}

export const stats = new Stats();
