package org.mas.broker.delivery.ledger;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Where every step in the life of a message is published (accepted, queued, acked, dead-lettered, ...), and who hears
 * it. The subscribers are wired in one place, config/BrokerBeans, in this order: the delivery ledger (which records
 * it), then the acknowledgment tracker, the metrics and queue clean-up. Each hears a step on the thread that
 * published it, after those before it: a step that a subscriber publishes in answer is recorded after the first.
 */
public final class DeliverySteps {

    private final List<Consumer<LedgerEvent>> subscribers = new CopyOnWriteArrayList<>();
    private volatile Consumer<LedgerEvent> recorder = step -> { };

    /** The ledger's writer: hears every step first, except those already written ({@link #publishRecorded}). */
    public void subscribeRecorder(Consumer<LedgerEvent> recorder) {
        this.recorder = recorder;
    }

    public void subscribe(Consumer<LedgerEvent> subscriber) {
        subscribers.add(subscriber);
    }

    public void publish(LedgerEvent step) {
        recorder.accept(step);
        publishRecorded(step);
    }

    /** A step already in the database (written in the transaction that made it): everyone but the recorder hears it. */
    public void publishRecorded(LedgerEvent step) {
        for (Consumer<LedgerEvent> subscriber : subscribers) {
            subscriber.accept(step);
        }
    }

    public void publishAll(List<LedgerEvent> steps) {
        steps.forEach(this::publish);
    }
}
