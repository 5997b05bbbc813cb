package org.mas.broker.config;

import java.time.Duration;
import java.util.Map;

import org.apache.camel.BindToRegistry;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.LoggingLevel;
import org.apache.camel.processor.errorhandler.RedeliveryPolicy;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.spi.Registry;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.cluster.JobLeases;
import org.mas.broker.cluster.SingletonJobPolicy;
import org.mas.broker.delivery.AckDeadlines;
import org.mas.broker.delivery.AckTracker;
import org.mas.broker.delivery.SharedAckDeadlines;
import org.mas.broker.delivery.Acknowledgments;
import org.mas.broker.delivery.AttemptCounter;
import org.mas.broker.delivery.DeadLetterApi;
import org.mas.broker.delivery.HttpDelivery;
import org.mas.broker.delivery.TransactedCopySender;
import org.mas.broker.delivery.DeadLetters;
import org.mas.broker.delivery.DeliveryPreparer;
import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.DeliverySteps;
import org.mas.broker.delivery.ledger.LedgerCleanup;
import org.mas.broker.delivery.ledger.LedgerDatabases;
import org.mas.broker.delivery.ledger.LedgerRecorder;
import org.mas.broker.delivery.ledger.MessagesApi;
import org.mas.broker.envelope.EnvelopeProcessor;
import org.mas.broker.identity.AgentRegistry;
import org.mas.broker.identity.AgentsApi;
import org.mas.broker.identity.CapabilityDirectory;
import org.mas.broker.identity.Secrets;
import org.mas.broker.ingress.IngressGuard;
import org.mas.broker.ingress.batch.BatchJmsComponent;
import org.mas.broker.rest.AuditTrail;
import org.mas.broker.rest.JsonHttpErrors;
import org.mas.broker.rest.RestScopes;
import org.mas.broker.rest.RestResponses;
import org.mas.broker.monitoring.BrokerHealthCheck;
import org.mas.broker.monitoring.AlertEvaluator;
import org.mas.broker.monitoring.BrokerMetrics;
import org.mas.broker.monitoring.LedgerHealthCheck;
import org.mas.broker.monitoring.DeliveryStats;
import org.mas.broker.queues.AddressSettingsPolicy;
import org.mas.broker.queues.AgentQueueActivity;
import org.mas.broker.queues.BacklogGuard;
import org.mas.broker.queues.BrokerManagement;
import org.mas.broker.queues.EmbeddedArtemis;
import org.mas.broker.queues.JmsConnections;
import org.mas.broker.queues.QueueAdmin;
import org.mas.broker.queues.QueueCleanup;
import org.mas.broker.queues.QueuesApi;
import org.mas.broker.routing.AgentDirectory;
import org.mas.broker.routing.RecipientResolver;
import org.mas.broker.routing.RoutingApi;
import org.mas.broker.routing.RoutingRules;

/**
 * Binds what the routes call by name: the broker connection (and the embedded broker when no broker_url is set), the
 * JMS components, and the beans of each feature.
 */
public class BrokerBeans implements CamelConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(BrokerBeans.class);

    @Override
    public void configure(CamelContext context) throws Exception {
        Registry registry = context.getRegistry();
        PropertiesComponent properties = context.getPropertiesComponent();
        BrokerSettings settings = registry.lookupByNameAndType(BrokerSettings.BEAN_NAME, BrokerSettings.class);

        LedgerDatabases databases = new LedgerDatabases(settings);
        if (settings.clustered()) {
            warnAboutClock(databases.delivery());
        }
        AgentRegistry agentRegistry = new AgentRegistry(databases.queues(),
                Integer.parseInt(properties.resolveProperty("mas.security.bcrypt-cost").orElse(String.valueOf(Secrets.DEFAULT_COST))));
        agentRegistry.load(settings.agents());
        registry.bind("agentRegistry", agentRegistry);
        long registryRefresh = properties.resolveProperty("mas.registry.refresh-interval-ms").filter(v -> !v.isBlank())
                .map(Long::parseLong).orElse(settings.clustered() ? 1000L : 0L);
        if (registryRefresh > 0) { // other routers write the same registry: pick up their changes
            agentRegistry.refreshEvery(Duration.ofMillis(registryRefresh),
                    context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "agent-registry-refresh"));
        }

        // failed authentications are counted by the metrics, which are made further down
        java.util.concurrent.atomic.AtomicReference<BrokerMetrics> metricsLater = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.function.Consumer<String> authFailures = protocol -> {
            BrokerMetrics counting = metricsLater.get();
            if (counting != null) {
                counting.authFailure(protocol);
            }
        };
        EmbeddedArtemis embedded = null;
        String brokerUrl = settings.brokerUrl();
        String brokerUser = properties.resolveProperty("mas.broker.user").orElse(null);
        String brokerPassword = properties.resolveProperty("mas.broker.password").orElse(null);
        if (settings.embeddedBroker()) {
            embedded = new EmbeddedArtemis(settings, properties.resolveProperty("mas.embedded-broker.acceptor")
                    .orElse("tcp://127.0.0.1:61616?protocols=CORE,AMQP,STOMP,MQTT,OPENWIRE"),
                    Long.parseLong(properties.resolveProperty("mas.embedded-broker.expiry-scan-period-ms").orElse("5000")),
                    agentRegistry, authFailures);
            brokerUrl = embedded.inVmUrl();
            brokerUser = org.mas.broker.MasNames.ROUTER_USER; // the router's own identity, in-VM only
            brokerPassword = embedded.routerPassword();
            registry.bind(EmbeddedArtemis.BEAN_NAME, embedded);
            if (settings.security().allowAnonymous()) {
                LOG.warn("security.allow_anonymous is true: connections without credentials may do anything on the "
                        + "embedded broker (read any queue, send as any agent); set it to false before this broker is "
                        + "reachable by anyone else");
            }
        } else {
            LOG.info("Using the external broker at {}", settings.brokerUrl());
        }
        int sessionCache = Integer.parseInt(properties.resolveProperty("mas.jms.session-cache-size").orElse("16"));
        JmsConnections jms = new JmsConnections(brokerUrl, brokerUser, brokerPassword, sessionCache);
        context.addComponent(JmsConnections.TRANSACTED_COMPONENT, jms.transactedComponent());
        context.addComponent(JmsConnections.NON_TRANSACTED_COMPONENT, jms.nonTransactedComponent());
        context.addComponent(BatchJmsComponent.SCHEME, new BatchJmsComponent(jms.transactedConnectionFactory()));
        BrokerManagement management = new BrokerManagement(jms.artemisConnectionFactory());
        QueueAdmin queueAdmin = new QueueAdmin(management);
        // who offers which capability: the agent registry (registered and configured agents)
        CapabilityDirectory capabilities = agentRegistry;
        registry.bind("capabilities", capabilities);
        // starts the embedded broker (or configures the external one) when the context starts, before any route, and
        // creates the queues of the registered agents and of every offered capability, so that agents can consume
        // before any message (they may not create queues); stops the broker after the routes
        boolean external = embedded == null; // the embedded broker's security makes the agents' queues itself
        context.addService(new BrokerLifecycle(jms, embedded, () -> AddressSettingsPolicy.applyThroughManagement(management,
                settings), () -> createRegistryQueues(queueAdmin, external ? agentRegistry.enabledAgentIds() : java.util.Set.of(),
                agentRegistry.offeredCapabilities())), true, true);
        if (external) {
            // the embedded broker's security creates a new agent's queues itself; an external one gets them from here
            agentRegistry.subscribe(change -> {
                if (change.kind() == AgentRegistry.Change.Kind.REGISTERED) {
                    createRegistryQueues(queueAdmin, java.util.Set.of(change.agent().id()),
                            java.util.Set.copyOf(change.agent().capabilities()));
                }
            });
        }

        RestResponses restResponses = new RestResponses();
        // broadcast recipients: with identities on (the embedded broker, no anonymous connections) the registry's
        // enabled agents only, so made-up ids that got a queue never count; otherwise also every agent queue
        boolean registeredOnly = embedded != null && !settings.security().allowAnonymous();
        AgentDirectory agents = new AgentDirectory(agentRegistry::enabledAgentIds, id -> registeredOnly
                ? !agentRegistry.isEnabled(id) : agentRegistry.find(id).map(agent -> !agent.enabled()).orElse(false),
                management::anycastQueueNames, Duration.ofSeconds(5),
                context.getExecutorServiceManager().newSingleThreadExecutor(this, "agent-directory-refresh"));
        EnvelopeProcessor envelopes = new EnvelopeProcessor(settings.maxMessageSize());
        registry.bind("brokerManagement", management);
        registry.bind("queuesApi", new QueuesApi(queueAdmin, agents::invalidate, restResponses));
        BacklogGuard backlog = new BacklogGuard(queueAdmin, settings.backlogLimit(),
                context.getExecutorServiceManager().newSingleThreadExecutor(this, "backlog-depths"));
        registry.bind("backlog", backlog);
        registry.bind("agentDirectory", agents);
        registry.bind("envelopes", envelopes);
        RestScopes scopes = new RestScopes();
        context.addStartupListener(scopes); // reads each verb's scope from the REST model; none declared stops start-up
        AuditTrail audit = new AuditTrail(databases.delivery(), restResponses, java.time.Clock.systemUTC());
        registry.bind("audit", audit);
        registry.bind("ingress", new IngressGuard(envelopes, settings.apiKeys(), scopes, audit,
                () -> authFailures.accept("rest"), settings.security().allowAnonymous()));
        org.mas.broker.ingress.SenderCheck senders = new org.mas.broker.ingress.SenderCheck();
        registry.bind("senders", senders);
        registry.bind("restResponses", restResponses);
        registry.bind("agentsApi", new AgentsApi(agentRegistry, restResponses));
        agentRegistry.subscribe(change -> agents.invalidate()); // broadcasts reach a new agent, not a disabled one
        RecipientResolver recipients = new RecipientResolver(agents, capabilities);
        registry.bind("recipients", recipients);
        AgentQueueActivity activity = new AgentQueueActivity();
        registry.bind("agentQueueActivity", activity);
        registry.bind("delivery", new DeliveryPreparer(activity));
        registry.bind("deadLetters", new DeadLetters());
        boolean recording = Boolean.parseBoolean(properties.resolveProperty("mas.ledger.enabled").orElse("true"));
        if (settings.clustered() && !recording) {
            throw new ConfigurationException("message_broker.cluster.enabled needs the delivery ledger (mas.ledger.enabled "
                    + "= true): the routers keep their acknowledgment deadlines in it");
        }
        DeliveryLedger ledger = new DeliveryLedger(databases, recording,
                java.nio.file.Path.of(settings.dataDir(), "db", "set-aside.jsonl"));
        context.addService(ledger, true, true); // stopped after the routes: writes what is pending first
        DeliverySteps steps = new DeliverySteps();
        registry.bind("deliverySteps", steps);
        // several routers: a REST answer waits (at most 5 s) until the ledger has written what this router recorded,
        // since the next read may go to another router, which cannot flush this one's writer
        LedgerRecorder recorder = new LedgerRecorder(steps, ledger, settings.ackTimeout() * 1000L, !settings.clustered()
                ? () -> { } : () -> ledger.flush(Duration.ofSeconds(5)));
        registry.bind("deliveryLedger", ledger);
        registry.bind("ledger", recorder);
        // several routers claim each id in the shared ledger before routing it (the same id at two routers at once)
        org.mas.broker.delivery.ledger.Idempotency idempotency = new org.mas.broker.delivery.ledger.Idempotency(ledger,
                settings.clustered() ? settings.instanceId() : null, Duration.ofMillis(Long.parseLong(
                        properties.resolveProperty("mas.cluster.claim-wait-ms").orElse("16000"))));
        registry.bind("idempotency", idempotency);
        // the routing rules in force (routes/routing/routing-rules.yaml, reloaded while the broker runs), and their API:
        // the dry-run passes the checks of a real send, without their effects, then the same rules
        RoutingRules routingRules = new RoutingRules(context, Duration.ofMillis(Long.parseLong(
                properties.resolveProperty("mas.routing.rules-watch-ms").orElse("2000"))), java.time.Clock.systemUTC());
        context.addService(routingRules, true, true);
        registry.bind("routingRules", routingRules);
        registry.bind("routingApi", new RoutingApi(routingRules, recipients, backlog,
                java.util.List.of(envelopes::accept, senders::check, idempotency::peek), restResponses));
        if (settings.clustered()) { // the routers' signs of life: a stopped router's claims on ids are taken over at once
            String instance = settings.instanceId();
            context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "router-heartbeat")
                    .scheduleWithFixedDelay(() -> {
                        try {
                            ledger.heartbeat(instance);
                        } catch (java.sql.SQLException | RuntimeException e) {
                            LOG.debug("Heartbeat not written: {}", e.toString());
                        }
                    }, 0, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
        registry.bind("messagesApi", new MessagesApi(ledger, restResponses));
        registry.bind("openApi", new org.mas.broker.rest.OpenApiDocument());
        registry.bind("ledgerCleanup", new LedgerCleanup(ledger, Duration.ofSeconds(settings.ledgerRetention())));
        QueueCleanup queueCleanup = new QueueCleanup(queueAdmin, activity, agentRegistry::isEnabled, ledger::agentLastSeen, Duration.ofSeconds(settings.idleQueueTimeout()),
                Duration.ofSeconds(settings.ledgerRetention()), java.time.Clock.systemUTC());
        registry.bind("queueCleanup", queueCleanup);
        registry.bind("countAttempt", new AttemptCounter(recorder));
        DeliveryStats stats = new DeliveryStats(java.time.Clock.systemUTC());
        registry.bind("stats", stats);
        BrokerMetrics metrics = new BrokerMetrics(context, queueAdmin, stats);
        metrics.watchLedgerSetAside(ledger::setAsideCount);
        context.addStartupListener(metrics);
        registry.bind("metrics", metrics);
        metricsLater.set(metrics);
        registry.bind("transactedCopies", new TransactedCopySender(jms.transactedConnectionFactory(), activity, recorder, metrics::queuedAfter));
        // POST /api/messages: the requests waiting at the same moment share one transaction (routes/ingress/rest.yaml)
        org.mas.broker.ingress.batch.RestBatches restBatches = new org.mas.broker.ingress.batch.RestBatches(context,
                jms.transactedConnectionFactory(), org.mas.broker.MasNames.ENDPOINT_REST_MESSAGE_PATH,
                Integer.parseInt(properties.resolveProperty("mas.ingress.rest.concurrent-batches").orElse("2")),
                Integer.parseInt(properties.resolveProperty("mas.ingress.rest.max-batch-size").orElse("100")),
                metrics::restBatchCommitted);
        context.addService(restBatches, true, true);
        registry.bind("restBatches", restBatches);
        // queue clean-up, ledger clean-up and alert evaluation run on one router at a time (routePolicy: singletonJob)
        registry.bind(SingletonJobPolicy.BEAN_NAME, new SingletonJobPolicy(!settings.clustered() ? null
                : new JobLeases(databases.delivery(), Duration.ofMillis(Long.parseLong(
                        properties.resolveProperty("mas.cluster.job-lease-ms").orElse("300000")))),
                settings.instanceId(), metrics::singletonJobRan));
        registry.bind("alerts", new AlertEvaluator(context, settings.alertThresholds(), queueAdmin, metrics));
        registry.bind("masRedeliveryPolicy", redeliveryPolicy(settings));
        Duration scanInterval = Duration.ofMillis(Long.parseLong(properties.resolveProperty("mas.ack.scan-interval-ms").orElse("1000")));
        Duration earlyHold = Duration.ofMillis(Long.parseLong(properties.resolveProperty("mas.ack.early-hold-ms").orElse("1000")));
        int earlyMax = Integer.parseInt(properties.resolveProperty("mas.ack.early-max").orElse("10000"));
        // one router: deadlines in memory, resumed from the ledger; several: the shared ledger's rows are the deadlines
        AckDeadlines tracker = settings.clustered()
                ? new SharedAckDeadlines(context, ledger, steps, capabilities, Duration.ofSeconds(settings.ackTimeout()),
                        settings.alertThresholds().retryCount(), settings.redelivery().initialDelayMs(),
                        settings.redelivery().backoffMultiplier(), settings.redelivery().maxDelayMs(), scanInterval,
                        earlyHold, earlyMax, acked -> metrics.latency("acked", acked))
                : new AckTracker(context, ledger, steps, capabilities, Duration.ofSeconds(settings.ackTimeout()),
                        settings.alertThresholds().retryCount(), settings.redelivery().initialDelayMs(),
                        settings.redelivery().backoffMultiplier(), settings.redelivery().maxDelayMs(), scanInterval,
                        earlyHold, earlyMax, acked -> metrics.latency("acked", acked));
        context.addService(tracker, true, true);
        // who hears each delivery step, in this order: the ledger records it, then the acknowledgment tracker follows
        // the copies that need an ack, the metrics count it, and queue clean-up notes the agents seen
        steps.subscribeRecorder(ledger::submit);
        steps.subscribe(tracker::onStep);
        steps.subscribe(metrics::onStep);
        steps.subscribe(step -> {
            if (step.kind() == org.mas.broker.delivery.ledger.LedgerEvent.Kind.AGENT_SEEN) {
                queueCleanup.agentSeen(step.recipient(), step.at());
            }
        });
        registry.bind("ackTracker", tracker);
        registry.bind("acks", new Acknowledgments(tracker, restResponses, settings.security().allowAnonymous()));
        registry.bind("httpDelivery", new HttpDelivery(envelopes));
        registry.bind("deadLetterApi", new DeadLetterApi(context, jms.artemisConnectionFactory(), queueAdmin, steps, restResponses));

        HealthCheckRegistry health = HealthCheckRegistry.get(context);
        if (health != null) {
            health.register(new BrokerHealthCheck(embedded, jms.artemisConnectionFactory()));
            health.register(new LedgerHealthCheck(Map.of("messages", databases.messages(), "queues", databases.queues(),
                    "delivery", databases.delivery())));
        }
        int httpPort = Integer.parseInt(properties.resolveProperty("camel.server.port").orElse("8080"));
        context.addStartupListener(new JsonHttpErrors(httpPort, settings.maxMessageSize()));
        context.addStartupListener(new org.mas.broker.rest.ConsoleResources(httpPort)); // /console/
        warnAboutApiKeys(settings);
    }

    /** Routers write deadlines with their own clocks: one far from the database's (and so the others') is told. */
    private static void warnAboutClock(javax.sql.DataSource database) {
        try (java.sql.Connection c = database.getConnection();
             java.sql.ResultSet r = c.createStatement().executeQuery("SELECT CURRENT_TIMESTAMP")) {
            r.next();
            Duration skew = Duration.between(r.getTimestamp(1).toInstant(), java.time.Instant.now()).abs();
            if (skew.compareTo(Duration.ofSeconds(1)) > 0) {
                LOG.warn("This router's clock is {} ms from the ledger database's: acknowledgment deadlines are written "
                        + "with the routers' clocks; keep them in sync (NTP)", skew.toMillis());
            }
        } catch (java.sql.SQLException e) {
            LOG.warn("Could not compare this router's clock with the ledger database's: {}", e.toString());
        }
    }

    private static void createRegistryQueues(QueueAdmin queues, java.util.Set<String> agents, java.util.Set<String> capabilities) {
        java.util.List<String> created = new java.util.ArrayList<>();
        String queue = null;
        try {
            for (String agent : agents) {
                queue = org.mas.broker.MasNames.agentQueue(agent);
                if (queues.ensureAgentQueue(agent)) {
                    created.add(queue);
                }
            }
            for (String capability : capabilities) {
                queue = org.mas.broker.MasNames.capabilityQueue(capability);
                if (queues.ensureCapabilityQueue(capability)) {
                    created.add(queue);
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("Could not create the queue " + queue + ": " + e.getMessage(), e);
        }
        if (!created.isEmpty()) {
            LOG.info("Created the queues of registered agents and offered capabilities: {}", created);
        }
    }

    /** retry_count redeliveries with exponential back-off; delays do not hold REST or file threads (async). */
    static RedeliveryPolicy redeliveryPolicy(BrokerSettings settings) {
        RedeliveryPolicy policy = new RedeliveryPolicy();
        policy.setMaximumRedeliveries(settings.alertThresholds().retryCount());
        policy.setRedeliveryDelay(settings.redelivery().initialDelayMs());
        policy.setUseExponentialBackOff(true);
        policy.setBackOffMultiplier(settings.redelivery().backoffMultiplier());
        policy.setMaximumRedeliveryDelay(settings.redelivery().maxDelayMs());
        policy.setRetryAttemptedLogLevel(LoggingLevel.WARN);
        policy.setLogStackTrace(false);
        policy.setLogExhausted(false);
        policy.setAsyncDelayedRedelivery(true); // a transacted JMS exchange still retries on its own thread
        return policy;
    }

    private static void warnAboutApiKeys(BrokerSettings settings) {
        if (settings.apiKeys().isEmpty()) {
            LOG.warn("No API key is configured (message_broker.api_keys): every REST API call will be refused with 401");
        }
        for (BrokerSettings.ApiKey key : settings.apiKeys()) {
            if (BrokerSettings.DEVELOPMENT_API_KEY.equals(key.key())) {
                LOG.warn("The development API key '{}' ({}) is accepted: replace it in message_broker.api_keys or "
                        + "MESSAGE_BROKER_API_KEYS before this broker is reachable by anyone else", key.key(), key.name());
            }
        }
    }

    /**
     * Starts the embedded broker before the routes (then creates the queues the router owns); stops the JMS
     * connections, then the broker, after them.
     */
    static final class BrokerLifecycle extends ServiceSupport {
        private final JmsConnections jms;
        private final EmbeddedArtemis embedded;
        private final Runnable configureExternal;
        private final Runnable createQueues;

        BrokerLifecycle(JmsConnections jms, EmbeddedArtemis embedded, Runnable configureExternal, Runnable createQueues) {
            this.jms = jms;
            this.embedded = embedded;
            this.configureExternal = configureExternal;
            this.createQueues = createQueues;
        }

        @Override
        protected void doStart() throws Exception {
            if (embedded != null) {
                embedded.start();
            } else {
                try {
                    configureExternal.run();
                } catch (RuntimeException e) {
                    throw new IllegalStateException("Could not apply the mas.* address settings to the external broker "
                            + "(the router's user needs the manage permission on it): " + e.getMessage(), e);
                }
            }
            createQueues.run();
        }

        @Override
        protected void doStop() throws Exception {
            jms.close();
            if (embedded != null) {
                embedded.stop();
            }
        }
    }
}
