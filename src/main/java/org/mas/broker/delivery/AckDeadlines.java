package org.mas.broker.delivery;

import java.util.function.Consumer;

import org.mas.broker.delivery.ledger.LedgerEvent;

/**
 * Who follows the copies of {@code requires_ack} messages until their recipients acknowledge them: resends a copy
 * whose deadline passed, dead-letters it after retry_count resends, applies acknowledgments. One router alone keeps
 * the deadlines in memory ({@link AckTracker}); several routers keep them in the shared ledger
 * ({@link SharedAckDeadlines}). Both answer every acknowledgment the same way.
 */
public interface AckDeadlines {

    /** HELD: the copy is not known yet; the outcome goes to the caller's callback within the hold. */
    enum Outcome { APPLIED, ALREADY_FINAL, UNKNOWN_MESSAGE, NOT_A_RECIPIENT, HELD }

    record Result(Outcome outcome, String status) {
    }

    /** Subscribed to the delivery steps: each one once it is in the ledger's queue. */
    void onStep(LedgerEvent event);

    /** An acknowledgment by REST, answered now (it may wait a moment for a copy just being recorded). */
    Result acknowledge(String messageId, String agent, String status, String detail) throws Exception;

    /**
     * An acknowledgment; applying the same one twice changes nothing. With {@code later} (mas.acks), one for a copy
     * not known yet returns {@link Outcome#HELD} at once, and {@code later} gets the outcome when its copy is
     * recorded or the hold ends.
     */
    Result acknowledge(String messageId, String agent, String status, String detail, Consumer<Result> later) throws Exception;

    /** Copies waiting for an acknowledgment or a resend (for tests and metrics). */
    int tracked();
}
