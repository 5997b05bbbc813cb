package org.mas.broker.monitoring;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.HdrHistogram.Histogram;

/**
 * GET /api/stats: throughput, latency percentiles (arrival -> queued) and failure rate over the last 1, 5 and 15
 * minutes, from one bucket per minute (15 buckets, a ring). Bean name {@code stats}.
 */
public class DeliveryStats {

    private static final int MINUTES = 15;

    private static final class Minute {
        long epochMinute = -1;
        long received;
        long delivered;
        long failed;
        final Histogram latencyMicros = new Histogram(3);

        void reset(long minute) {
            epochMinute = minute;
            received = 0;
            delivered = 0;
            failed = 0;
            latencyMicros.reset();
        }
    }

    private final Clock clock;
    private final long startedAt;
    private final Minute[] ring = new Minute[MINUTES];

    public DeliveryStats(Clock clock) {
        this.clock = clock;
        this.startedAt = clock.millis();
        for (int i = 0; i < MINUTES; i++) {
            ring[i] = new Minute();
        }
    }

    private Minute current() {
        long minute = clock.millis() / 60_000;
        Minute bucket = ring[(int) (minute % MINUTES)];
        if (bucket.epochMinute != minute) {
            bucket.reset(minute);
        }
        return bucket;
    }

    public synchronized void received() {
        current().received++;
    }

    public synchronized void delivered(long latencyMillis) {
        Minute bucket = current();
        bucket.delivered++;
        bucket.latencyMicros.recordValue(Math.max(0, latencyMillis) * 1000);
    }

    public synchronized void failed() {
        current().failed++;
    }

    public synchronized Map<String, Object> snapshot() {
        Map<String, Object> windows = new LinkedHashMap<>();
        for (int minutes : List.of(1, 5, 15)) {
            windows.put(minutes + "m", window(minutes));
        }
        return Map.of("windows", windows);
    }

    private Map<String, Object> window(int minutes) {
        long now = clock.millis();
        long currentMinute = now / 60_000;
        long received = 0;
        long delivered = 0;
        long failed = 0;
        Histogram latency = new Histogram(3);
        for (Minute bucket : ring) {
            if (bucket.epochMinute > currentMinute - minutes && bucket.epochMinute <= currentMinute) {
                received += bucket.received;
                delivered += bucket.delivered;
                failed += bucket.failed;
                latency.add(bucket.latencyMicros);
            }
        }
        double seconds = Math.max(1, Math.min(minutes * 60_000L, now - startedAt) / 1000.0);
        Map<String, Object> window = new LinkedHashMap<>();
        window.put("received", received);
        window.put("delivered", delivered);
        window.put("failed", failed);
        window.put("throughput_per_s", Math.round(delivered / seconds * 100) / 100.0);
        window.put("latency_ms", Map.of(
                "p50", latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(50) / 1000.0,
                "p95", latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(95) / 1000.0,
                "p99", latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(99) / 1000.0));
        window.put("failure_rate", delivered + failed == 0 ? 0.0 : (double) failed / (delivered + failed));
        return window;
    }
}
