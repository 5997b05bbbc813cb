package org.mas.broker.queues;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.apache.activemq.artemis.api.core.QueueConfiguration;
import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.core.config.CoreAddressConfiguration;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.remoting.impl.netty.TransportConstants;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.core.server.JournalType;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.nativo.jlibaio.LibaioContext;
import org.apache.activemq.artemis.spi.core.protocol.ProtocolManagerFactory;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.config.BrokerSettings;
import org.mas.broker.identity.AgentRegistry;

/**
 * The embedded default: an Artemis server with a persistent journal under {@code <data_dir>/artemis}, one acceptor
 * that speaks CORE, AMQP, STOMP, MQTT and OpenWire, an in-VM acceptor for the router itself, security on (every
 * connection authenticates as an agent of the registry, {@link AgentSecurityManager}; what each may do:
 * {@link BrokerSecurity}), and the MAS addresses with explicit address settings. {@link DurableIngressPlugin} keeps what agents send durable and
 * refuses what is far over the size limit.
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
    private final BrokerSecurity security;
    private final AgentSecurityManager securityManager;
    private final String routerPassword = org.mas.broker.identity.Secrets.newSecret();

    /** @param authFailed told the protocol of each failed authentication (mas_auth_failures_total) */
    public EmbeddedArtemis(BrokerSettings settings, String acceptorUrl, long expiryScanPeriodMs, AgentRegistry registry,
                           Consumer<String> authFailed) {
        this.settings = settings;
        this.acceptorUrl = acceptorUrl;
        this.expiryScanPeriodMs = expiryScanPeriodMs;
        boolean anonymous = settings.security().allowAnonymous();
        this.security = new BrokerSecurity(registry, anonymous);
        this.securityManager = new AgentSecurityManager(registry, anonymous,
                AgentSecurityManager.RouterLogin.inVmOnly(routerPassword), authFailed);
    }

    /** The password of the router's own user ({@link MasNames#ROUTER_USER}): random per process, in-VM only. */
    public String routerPassword() {
        return routerPassword;
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
        config.setSecurityEnabled(true); // every connection authenticates (AgentSecurityManager, BrokerSecurity)
        config.setPopulateValidatedUser(true); // _AMQ_VALIDATED_USER: the agent that sent a message
        // the caches are dropped whenever the registry changes a secret or disables an agent, so they may live long
        config.setSecurityInvalidationInterval(300_000);
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
        boolean tls = settings.security().tlsEnabled();
        if (tls) {
            // in the parameters, not the URL: a path or password with '&' or '=' stays intact and out of the log line
            config.getAcceptorConfigurations().stream().filter(t -> t.getName().equals("artemis"))
                    .forEach(t -> t.getParams().putAll(tlsParameters(settings.security().tls())));
        }
        config.addAcceptorConfiguration("in-vm", inVmUrl());
        AddressSettingsPolicy.catchAll().forEach(config::addAddressSetting);
        AddressSettingsPolicy.forMasAddresses(settings).forEach(config::addAddressSetting);
        config.setMessageExpiryScanPeriod(expiryScanPeriodMs);
        config.registerBrokerPlugin(new DurableIngressPlugin(settings.maxMessageSize(), true));
        for (String queue : new String[] {MasNames.INBOUND, MasNames.ACKS, MasNames.INVALID, MasNames.DLQ, MasNames.EXPIRED,
                MasNames.EXPIRED_LEDGER}) {
            config.addQueueConfiguration(QueueConfiguration.of(queue).setAddress(queue)
                    .setRoutingType(RoutingType.ANYCAST).setDurable(true));
        }
        config.addAddressConfiguration(new CoreAddressConfiguration().setName(MasNames.ALERTS)
                .addRoutingType(RoutingType.MULTICAST));
        security.configure(config);
        embedded = new EmbeddedActiveMQ();
        embedded.setConfiguration(config);
        embedded.setSecurityManager(securityManager);
        embedded.createActiveMQServer();
        openWire.ifPresent(server()::addProtocolManagerFactory);
        embedded.start();
        if (!server().isActive()) {
            embedded.stop();
            throw new IllegalStateException("the embedded Artemis broker did not start (is " + acceptorUrl
                    + " already in use?): see the AMQ errors above");
        }
        security.started(server());
        LOG.info("Embedded Artemis {} started: acceptor {}{}, journal {} ({}) under {}", server().getVersion().getFullVersion(),
                acceptor, tls ? " over TLS only (keystore " + settings.security().tls().keystore() + ")" : "", journal,
                journal == JournalType.NIO ? "libaio not available" : "libaio", base);
    }

    @Override
    protected void doStop() throws Exception {
        security.stopped();
        if (embedded != null) {
            embedded.stop();
            embedded = null;
            LOG.info("Embedded Artemis stopped");
        }
    }

    /** Artemis acceptor parameters for TLS with the settings' PKCS12 keystore: every protocol on it then speaks TLS only. */
    static Map<String, Object> tlsParameters(BrokerSettings.Tls tls) {
        return Map.of(TransportConstants.SSL_ENABLED_PROP_NAME, true,
                TransportConstants.KEYSTORE_PATH_PROP_NAME, Path.of(tls.keystore()).toAbsolutePath().toString(),
                TransportConstants.KEYSTORE_PASSWORD_PROP_NAME, tls.keystorePassword() == null ? "" : tls.keystorePassword(),
                TransportConstants.KEYSTORE_TYPE_PROP_NAME, "PKCS12");
    }

    private static String withoutOpenWire(String url) {
        return url.replaceAll("(?i),OPENWIRE\\b|\\bOPENWIRE,?", "");
    }

}
