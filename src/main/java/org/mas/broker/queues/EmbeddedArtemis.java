package org.mas.broker.queues;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.activemq.artemis.api.core.QueueConfiguration;
import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.config.CoreAddressConfiguration;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.core.server.JournalType;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.core.settings.impl.AddressFullMessagePolicy;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.apache.activemq.artemis.nativo.jlibaio.LibaioContext;
import org.apache.activemq.artemis.spi.core.protocol.ProtocolManagerFactory;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.config.BrokerSettings;

/**
 * The embedded default: an Artemis server with a persistent journal under {@code <data_dir>/artemis}, one acceptor
 * that speaks CORE, AMQP, STOMP, MQTT and OpenWire, an in-VM acceptor for the router itself, anonymous access, and the
 * MAS addresses with explicit address settings.
 */
public class EmbeddedArtemis extends ServiceSupport {

    public static final String BEAN_NAME = "embeddedBroker";

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedArtemis.class);
    private static final AtomicInteger IN_VM_IDS = new AtomicInteger();

    private final BrokerSettings settings;
    private final String acceptorUrl;
    private final int inVmId = IN_VM_IDS.incrementAndGet();
    private EmbeddedActiveMQ embedded;

    private final long expiryScanPeriodMs;

    public EmbeddedArtemis(BrokerSettings settings, String acceptorUrl, long expiryScanPeriodMs) {
        this.settings = settings;
        this.acceptorUrl = acceptorUrl;
        this.expiryScanPeriodMs = expiryScanPeriodMs;
    }

    /** The URL the router's own connections use: in-VM, no network hop. */
    public String inVmUrl() {
        return "vm://" + inVmId;
    }

    public ActiveMQServer server() {
        return embedded.getActiveMQServer();
    }

    @Override
    protected void doStart() throws Exception {
        Path base = Path.of(settings.dataDir(), "artemis").toAbsolutePath();
        ConfigurationImpl config = new ConfigurationImpl();
        config.setName("mas-embedded-broker");
        config.setPersistenceEnabled(true);
        config.setSecurityEnabled(false); // anonymous connections: the embedded default listens on loopback only
        config.setJMXManagementEnabled(false); // management goes through messages to activemq.management
        config.setJournalDirectory(base.resolve("journal").toString());
        config.setBindingsDirectory(base.resolve("bindings").toString());
        config.setPagingDirectory(base.resolve("paging").toString());
        config.setLargeMessagesDirectory(base.resolve("large-messages").toString());
        config.setNodeManagerLockDirectory(base.toString());
        JournalType journal = LibaioContext.isLoaded() ? JournalType.ASYNCIO : JournalType.NIO;
        config.setJournalType(journal);
        Optional<ProtocolManagerFactory> openWire = OpenWireSupport.load();
        String acceptor = openWire.isPresent() ? acceptorUrl : withoutOpenWire(acceptorUrl);
        config.addAcceptorConfiguration("artemis", acceptor);
        config.addAcceptorConfiguration("in-vm", inVmUrl());
        AddressSettingsPolicy.apply(config, settings);
        config.setMessageExpiryScanPeriod(expiryScanPeriodMs);
        for (String queue : new String[] {MasNames.INBOUND, MasNames.ACKS, MasNames.INVALID, MasNames.DLQ, MasNames.EXPIRED,
                MasNames.EXPIRED_LEDGER}) {
            config.addQueueConfiguration(QueueConfiguration.of(queue).setAddress(queue)
                    .setRoutingType(RoutingType.ANYCAST).setDurable(true));
        }
        config.addAddressConfiguration(new CoreAddressConfiguration().setName(MasNames.ALERTS)
                .addRoutingType(RoutingType.MULTICAST));
        embedded = new EmbeddedActiveMQ();
        embedded.setConfiguration(config);
        embedded.createActiveMQServer();
        openWire.ifPresent(server()::addProtocolManagerFactory);
        embedded.start();
        if (!server().isActive()) {
            embedded.stop();
            throw new IllegalStateException("the embedded Artemis broker did not start (is " + acceptorUrl
                    + " already in use?): see the AMQ errors above");
        }
        LOG.info("Embedded Artemis {} started: acceptor {}, journal {} ({}) under {}", server().getVersion().getFullVersion(),
                acceptor, journal, journal == JournalType.NIO ? "libaio not available" : "libaio", base);
    }

    @Override
    protected void doStop() throws Exception {
        if (embedded != null) {
            embedded.stop();
            embedded = null;
            LOG.info("Embedded Artemis stopped");
        }
    }

    private static String withoutOpenWire(String url) {
        return url.replaceAll("(?i),OPENWIRE\\b|\\bOPENWIRE,?", "");
    }

    static SimpleString address(String name) {
        return SimpleString.of(name);
    }

    /** The address settings, in one place so that a standalone broker's broker.xml can mirror them. */
    static final class AddressSettingsPolicy {

        private AddressSettingsPolicy() {
        }

        static void apply(ConfigurationImpl config, BrokerSettings settings) {
            BrokerSettings.Redelivery redelivery = settings.redelivery();
            // Anything else on this broker (temporary reply queues, the management address) parks its dead and expired
            // messages with ours too.
            config.addAddressSetting("#", new AddressSettings()
                    .setDeadLetterAddress(address(MasNames.DLQ)).setExpiryAddress(address(MasNames.EXPIRED)));
            // Every mas.* address: anycast queues created on first use and kept, paging instead of unbounded memory,
            // dead letters to mas.dlq and expired messages to mas.expired, through mas.expired.ledger where the router
            // records them first. Redelivery to consumers (agents) is the
            // broker's: retry_count redeliveries with the same back-off as the router's.
            config.addAddressSetting("mas.#", new AddressSettings()
                    .setAutoCreateAddresses(true).setAutoCreateQueues(true)
                    .setAutoDeleteAddresses(false).setAutoDeleteQueues(false)
                    .setDefaultAddressRoutingType(RoutingType.ANYCAST).setDefaultQueueRoutingType(RoutingType.ANYCAST)
                    .setAddressFullMessagePolicy(AddressFullMessagePolicy.PAGE)
                    .setMaxSizeBytes(10L * 1024 * 1024)
                    .setDeadLetterAddress(address(MasNames.DLQ)).setExpiryAddress(address(MasNames.EXPIRED_LEDGER))
                    .setMaxDeliveryAttempts(settings.alertThresholds().retryCount() + 1)
                    .setRedeliveryDelay(redelivery.initialDelayMs())
                    .setRedeliveryMultiplier(redelivery.backoffMultiplier())
                    .setMaxRedeliveryDelay(redelivery.maxDelayMs()));
            // mas.inbound: the router's own input. Camel owns the retries of routing failures; the broker redelivers only
            // after a rollback (a crash, a failed commit), at once, and after retry_count + 1 such rollbacks parks the
            // message on mas.dlq as a poison message.
            config.addAddressSetting(MasNames.INBOUND, new AddressSettings()
                    .setRedeliveryDelay(0L).setMaxDeliveryAttempts(settings.alertThresholds().retryCount() + 2));
            // Where messages are parked: nothing is ever moved on or dropped from there by the broker, and what an
            // operator's session rolls back (a refused replay) is visible again at once.
            for (String parking : new String[] {MasNames.DLQ, MasNames.EXPIRED, MasNames.INVALID, MasNames.EXPIRED_LEDGER}) {
                config.addAddressSetting(parking, new AddressSettings().setMaxDeliveryAttempts(-1).setRedeliveryDelay(0L));
            }
            config.addAddressSetting(MasNames.ALERTS, new AddressSettings()
                    .setDefaultAddressRoutingType(RoutingType.MULTICAST).setDefaultQueueRoutingType(RoutingType.MULTICAST));
        }
    }
}
