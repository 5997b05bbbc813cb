package org.mas.broker;

import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import static org.assertj.core.api.Assertions.assertThat;

class RateLimitedLogTest {

    @Test
    void twentyLinesAMinuteThenTheNextMinuteBeginsAfresh() {
        AtomicLong now = new AtomicLong(1_000);
        RateLimitedLog log = new RateLimitedLog(LoggerFactory.getLogger(RateLimitedLogTest.class), "{} not logged", now::get);

        for (int i = 0; i < RateLimitedLog.PER_MINUTE; i++) {
            assertThat(log.admit()).as("line " + i).isTrue();
        }
        assertThat(log.admit()).isFalse();
        now.addAndGet(59_000_000_000L);
        assertThat(log.admit()).as("still the same minute").isFalse();
        now.addAndGet(2_000_000_000L);
        assertThat(log.admit()).as("a new minute").isTrue();
    }
}
