package org.mas.broker.delivery.ledger;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Removes ledger records older than ledger_retention; run every cleanup_interval. Bean name {@code ledgerCleanup}. */
public class LedgerCleanup {

    private static final Logger LOG = LoggerFactory.getLogger(LedgerCleanup.class);
    private static final int BATCH = 1_000;

    private final DeliveryLedger ledger;
    private final Duration retention;

    public LedgerCleanup(DeliveryLedger ledger, Duration retention) {
        this.ledger = ledger;
        this.retention = retention;
    }

    public int run() throws SQLException {
        int removed = ledger.removeOlderThan(Instant.now().minus(retention), BATCH);
        if (removed > 0) {
            LOG.info("Ledger clean-up removed {} records older than {}", removed, retention);
        }
        return removed;
    }
}
