package org.mas.broker;

import java.util.function.LongSupplier;

import org.slf4j.Logger;

/**
 * Warnings that a client can cause at will (a failed login, a bad acknowledgment), logged one by one up to
 * {@value #PER_MINUTE} a minute; past that, the first line of the next minute says how many were not. Thread-safe.
 */
public final class RateLimitedLog {

    public static final int PER_MINUTE = 20;
    private static final long MINUTE_NANOS = 60_000_000_000L;

    private final Logger log;
    private final String summary;
    private final LongSupplier nanoClock;
    private long windowStart;
    private int logged;
    private long unlogged;

    /** @param summary the line for those not logged, with one {@code {}} for their number */
    public RateLimitedLog(Logger log, String summary) {
        this(log, summary, System::nanoTime);
    }

    RateLimitedLog(Logger log, String summary, LongSupplier nanoClock) {
        this.log = log;
        this.summary = summary;
        this.nanoClock = nanoClock;
        this.windowStart = nanoClock.getAsLong();
    }

    /** Logs at WARN unless {@value #PER_MINUTE} lines were logged in this minute already. */
    public void warn(String format, Object... arguments) {
        if (admit()) {
            log.warn(format, arguments);
        }
    }

    /** True if the next line may be logged; logs the summary of the minute before when one begins. */
    boolean admit() {
        long notLogged = 0;
        boolean admitted;
        synchronized (this) {
            long now = nanoClock.getAsLong();
            if (now - windowStart > MINUTE_NANOS) {
                notLogged = unlogged;
                windowStart = now;
                logged = 0;
                unlogged = 0;
            }
            admitted = logged < PER_MINUTE;
            if (admitted) {
                logged++;
            } else {
                unlogged++;
            }
        }
        if (notLogged > 0) {
            log.warn(summary, notLogged);
        }
        return admitted;
    }
}
