package org.mas.broker.queues;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The meeting point of senders and queue clean-up: no send lands in a queue while it is being removed. */
class AgentQueueActivityTest {

    private final AgentQueueActivity activity = new AgentQueueActivity();

    @Test
    void aQueueSentToSinceItWasFoundIdleIsKept() throws Exception {
        long idleSince = System.currentTimeMillis() - 1;
        activity.sendingTo("worker");

        boolean removed = activity.retireUnlessSentSince("worker", idleSince, () -> {
            throw new AssertionError("must not remove a queue that was just sent to");
        });

        assertThat(removed).isFalse();
        assertThat(activity.lastSendTo("worker")).isPresent();
    }

    @Test
    void aQueueNotSentToIsRemovedAndItsMarkForgotten() throws Exception {
        activity.sendingTo("old");
        long idleSince = System.currentTimeMillis() + 1;
        CountDownLatch ran = new CountDownLatch(1);

        assertThat(activity.retireUnlessSentSince("old", idleSince, ran::countDown)).isTrue();

        assertThat(ran.getCount()).isZero();
        assertThat(activity.lastSendTo("old")).isEmpty();
    }

    @Test
    void aSendWaitsUntilTheRemovalOfItsQueueIsOver() throws Exception {
        CountDownLatch removing = new CountDownLatch(1);
        CountDownLatch finishRemoval = new CountDownLatch(1);
        CompletableFuture<Boolean> cleanup = CompletableFuture.supplyAsync(() -> {
            try {
                return activity.retireUnlessSentSince("gone", System.currentTimeMillis() + 1, () -> {
                    removing.countDown();
                    finishRemoval.await(10, TimeUnit.SECONDS);
                });
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(removing.await(10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<Void> send = CompletableFuture.runAsync(() -> activity.sendingTo("gone"));
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> !send.isDone());
        finishRemoval.countDown();

        assertThat(cleanup.get(10, TimeUnit.SECONDS)).isTrue();
        send.get(10, TimeUnit.SECONDS); // goes on once the queue is gone (the send re-creates it)
    }
}
