package org.mas.broker.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The yardstick that holds still (issue 13, item 0): the baseline (raw Artemis) and each path are measured
 * alternately, each after a warm-up, in {@link #COUNT} rounds; a path's ratio in one round is its rate over the mean
 * of the two raw measurements taken right before and right after it, and what is printed is the median of the
 * rounds' ratios with their spread (min, max). A path measured while the machine is busy with something else has its
 * raw baseline measured in the same busy minute, so the ratio holds still when the absolute rates do not.
 * {@code -Dbench.rounds=R} (bench/run: BENCH_ROUNDS) sets the number of rounds, default 3.
 */
final class Rounds {

    /** How many rounds (at least 1; default 3). */
    static final int COUNT = Math.max(1, Integer.getInteger("bench.rounds", 3));

    private Rounds() {
    }

    /** One path's measurements, one per round: its rate, the raw baseline of that round, its CPU per message. */
    static final class Series {
        private final List<Double> rates = new ArrayList<>();
        private final List<Double> baselines = new ArrayList<>();
        private final List<Double> cpus = new ArrayList<>();

        void add(double rate, double baseline, double cpuMicros) {
            rates.add(rate);
            baselines.add(baseline);
            cpus.add(cpuMicros);
        }

        int size() {
            return rates.size();
        }

        List<Double> ratios() {
            List<Double> ratios = new ArrayList<>();
            for (int i = 0; i < rates.size(); i++) {
                ratios.add(rates.get(i) / baselines.get(i));
            }
            return ratios;
        }

        double ratio() {
            return median(ratios());
        }

        double rate() {
            return median(rates);
        }

        double baseline() {
            return median(baselines);
        }

        double cpu() {
            return median(cpus);
        }

        double minRate() {
            return rates.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
        }

        double maxRate() {
            return rates.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        }

        /** "median of 3 rounds, min 0.38 max 0.44" */
        String spread() {
            return Rounds.spread(ratios());
        }
    }

    /** "median of 3 rounds, min 0.38 max 0.44" for these per-round values */
    static String spread(List<Double> values) {
        double min = values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
        double max = values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        return String.format(Locale.ROOT, "median of %d round%s, min %.2f max %.2f", values.size(),
                values.size() == 1 ? "" : "s", min, max);
    }

    static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** The baseline of a path measured between two raw measurements. */
    static double around(double before, double after) {
        return (before + after) / 2;
    }

    /** 4,120 */
    static String n(double value) {
        return String.format(Locale.ROOT, "%,.0f", value);
    }

    /** The label of a measurement line: "round 2/3". */
    static String round(int round) {
        return String.format(Locale.ROOT, "round %d/%d", round, COUNT);
    }
}
