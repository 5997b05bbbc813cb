package org.mas.broker.queues;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.settings.impl.AddressFullMessagePolicy;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.config.BrokerSettings;

/**
 * The broker's address settings for the MAS addresses, in one place: the embedded broker is configured with them, and
 * on an external broker the router applies them at start-up through the management address (the broker keeps them
 * in its journal). Only {@code mas.} matches go to an external broker; its other settings stay its operator's.
 */
public final class AddressSettingsPolicy {

    private static final Logger LOG = LoggerFactory.getLogger(AddressSettingsPolicy.class);

    private AddressSettingsPolicy() {
    }

    /** Embedded broker only: anything else on it (temporary reply queues, management) parks with ours too. */
    public static Map<String, AddressSettings> catchAll() {
        return Map.of("#", new AddressSettings()
                .setDeadLetterAddress(address(MasNames.DLQ)).setExpiryAddress(address(MasNames.EXPIRED)));
    }

    /** Match -> settings, from the most general to the most specific (Artemis merges them in that order). */
    public static Map<String, AddressSettings> forMasAddresses(BrokerSettings settings) {
        BrokerSettings.Redelivery redelivery = settings.redelivery();
        int retryCount = settings.alertThresholds().retryCount();
        Map<String, AddressSettings> matches = new LinkedHashMap<>();
        // Every mas.* address: anycast queues created on first use and kept, paging instead of unbounded memory,
        // dead letters to mas.dlq and expired messages to mas.expired, through mas.expired.ledger where the router
        // records them first. Redelivery to consumers (agents) is the broker's: retry_count redeliveries with the same
        // back-off as the router's.
        matches.put("mas.#", new AddressSettings()
                .setAutoCreateAddresses(true).setAutoCreateQueues(true)
                .setAutoDeleteAddresses(false).setAutoDeleteQueues(false)
                .setDefaultAddressRoutingType(RoutingType.ANYCAST).setDefaultQueueRoutingType(RoutingType.ANYCAST)
                .setAddressFullMessagePolicy(AddressFullMessagePolicy.PAGE)
                .setMaxSizeBytes(10L * 1024 * 1024)
                .setDeadLetterAddress(address(MasNames.DLQ)).setExpiryAddress(address(MasNames.EXPIRED_LEDGER))
                .setMaxDeliveryAttempts(retryCount + 1)
                .setRedeliveryDelay(redelivery.initialDelayMs())
                .setRedeliveryMultiplier(redelivery.backoffMultiplier())
                .setMaxRedeliveryDelay(redelivery.maxDelayMs()));
        // mas.inbound: the router's own input. Camel owns the retries of routing failures; the broker redelivers only
        // after a rollback (a crash, a failed commit), at once, and after retry_count + 1 such rollbacks parks the
        // message on mas.dlq as a poison message.
        matches.put(MasNames.INBOUND, new AddressSettings().setRedeliveryDelay(0L).setMaxDeliveryAttempts(retryCount + 2));
        // Where messages are parked: nothing is ever moved on or dropped from there by the broker, and what an
        // operator's session rolls back (a refused replay) is visible again at once.
        for (String parking : new String[] {MasNames.DLQ, MasNames.EXPIRED, MasNames.INVALID, MasNames.EXPIRED_LEDGER}) {
            matches.put(parking, new AddressSettings().setMaxDeliveryAttempts(-1).setRedeliveryDelay(0L));
        }
        matches.put(MasNames.ALERTS, new AddressSettings()
                .setDefaultAddressRoutingType(RoutingType.MULTICAST).setDefaultQueueRoutingType(RoutingType.MULTICAST));
        return matches;
    }

    /** External broker: the same mas.* settings, through the management address (the router's user needs manage). */
    public static void applyThroughManagement(BrokerManagement management, BrokerSettings settings) {
        Map<String, AddressSettings> matches = forMasAddresses(settings);
        matches.forEach((match, addressSettings) -> management.invoke(
                org.apache.activemq.artemis.api.core.management.ResourceNames.BROKER, "addAddressSettings", match,
                addressSettings.toJSON()));
        LOG.info("Address settings for {} applied to the external broker", matches.keySet());
    }

    static SimpleString address(String name) {
        return SimpleString.of(name);
    }
}
