package org.mas.broker.delivery;

import org.apache.camel.Exchange;
import org.apache.camel.Processor;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.LedgerRecorder;

/**
 * Runs before each redelivery (onRedeliveryRef in routes/error-handling.yaml) and keeps the number of attempts in an
 * exchange property (Camel clears its redelivery headers before the dead-letter step runs), and records the retry
 * in the ledger. Bean name
 * {@code countAttempt}.
 */
public class AttemptCounter implements Processor {

    private final LedgerRecorder ledger;

    public AttemptCounter(LedgerRecorder ledger) {
        this.ledger = ledger;
    }


    @Override
    public void process(Exchange exchange) {
        int redeliveries = exchange.getIn().getHeader(Exchange.REDELIVERY_COUNTER, 0, Integer.class);
        exchange.setProperty(MasNames.PROPERTY_ATTEMPTS, redeliveries + 1);
        ledger.retrying(exchange, redeliveries + 1);
    }

    public static int attempts(Exchange exchange) {
        return exchange.getProperty(MasNames.PROPERTY_ATTEMPTS, 1, Integer.class);
    }
}
