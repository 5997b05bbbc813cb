package org.mas.broker.queues;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import javax.security.auth.Subject;

import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttSubscribeMessage;
import io.netty.handler.codec.mqtt.MqttTopicSubscription;
import org.apache.activemq.artemis.api.core.ActiveMQSecurityException;
import org.apache.activemq.artemis.api.core.BaseInterceptor;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;
import org.apache.activemq.artemis.spi.core.security.jaas.RolePrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.RateLimitedLog;

/**
 * Lets an MQTT agent subscribe only to what it may read: its own queue and its capabilities' queues (by their fully
 * qualified names), and mas.alerts with the role monitor. Artemis's MQTT protocol destroys the queue a subscription
 * names when the consumer is then refused (messages and all, without a delete permission check), so a SUBSCRIBE for
 * anything else is not let through: the connection is closed. Connections with every permission (the router,
 * anonymous ones with security.allow_anonymous) subscribe to anything. Installed by {@link DurableIngressPlugin}, so a
 * standalone broker that loads the plugin has it too.
 */
final class MqttSubscriptionGuard {

    private static final Logger LOG = LoggerFactory.getLogger(MqttSubscriptionGuard.class);
    private static final String INTERCEPTOR = "org.apache.activemq.artemis.core.protocol.mqtt.MQTTInterceptor";
    private static final RateLimitedLog REFUSALS = new RateLimitedLog(LOG, "MQTT subscriptions refused");

    private MqttSubscriptionGuard() {
    }

    /** Adds the guard to the broker's incoming MQTT interceptors; nothing if the broker has no MQTT protocol. */
    static void install(ActiveMQServer server) {
        Class<?> type;
        try {
            type = Class.forName(INTERCEPTOR, true, ActiveMQServer.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            LOG.debug("No MQTT protocol on this broker: no MQTT subscription guard");
            return;
        }
        InvocationHandler handler = (proxy, method, args) -> switch (method.getName()) {
            case "intercept" -> intercept(args[0], (RemotingConnection) args[1]);
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == args[0];
            case "toString" -> "MqttSubscriptionGuard";
            default -> throw new UnsupportedOperationException(method.getName());
        };
        BaseInterceptor<?> guard = (BaseInterceptor<?>) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler);
        server.getRemotingService().addIncomingInterceptor(guard);
    }

    private static boolean intercept(Object packet, RemotingConnection connection) {
        if (!(packet instanceof MqttMessage message) || message.fixedHeader().messageType() != MqttMessageType.SUBSCRIBE
                || !(message instanceof MqttSubscribeMessage subscribe)) {
            return true;
        }
        Set<String> roles = roles(connection.getSubject());
        if (roles.contains(BrokerSecurity.ROLE_ROUTER) || roles.contains(BrokerSecurity.ROLE_ANONYMOUS)) {
            return true;
        }
        List<MqttTopicSubscription> topics = subscribe.payload().topicSubscriptions();
        for (MqttTopicSubscription topic : topics) {
            if (!allowed(topic.topicFilter(), roles)) {
                REFUSALS.warn("Closed the MQTT connection of {} from {}: it may not subscribe to '{}'",
                        AgentSecurityManager.printable(String.valueOf(connection.getSubject() == null ? "?" : userOf(connection.getSubject()))),
                        connection.getRemoteAddress(), AgentSecurityManager.printable(topic.topicFilter()));
                connection.fail(new ActiveMQSecurityException("refused by the MAS broker: an agent subscribes only to its "
                        + "own queue (mas/agent/<id>::mas/agent/<id>), its capabilities' queues and, as a monitor, mas/alerts"));
                return false;
            }
        }
        return true;
    }

    /** The MQTT topic filters an agent may subscribe to, in Artemis's address form ('/' as '.'). */
    static boolean allowed(String filter, Set<String> roles) {
        String core = filter.replace('/', '.');
        if (core.equals(MasNames.ALERTS)) {
            return roles.contains(MasNames.ROLE_MONITOR);
        }
        int separator = core.indexOf("::");
        if (separator < 0 || !core.substring(0, separator).equals(core.substring(separator + 2))) {
            return false;
        }
        String queue = core.substring(separator + 2);
        if (queue.startsWith(MasNames.AGENT_QUEUE_PREFIX)) {
            return roles.contains(BrokerSecurity.AGENT_ROLE_PREFIX + queue.substring(MasNames.AGENT_QUEUE_PREFIX.length()));
        }
        if (queue.startsWith(MasNames.CAPABILITY_QUEUE_PREFIX)) {
            return roles.contains(BrokerSecurity.CAPABILITY_ROLE_PREFIX + queue.substring(MasNames.CAPABILITY_QUEUE_PREFIX.length()));
        }
        return false;
    }

    private static Set<String> roles(Subject subject) {
        Set<String> roles = new HashSet<>();
        if (subject != null) {
            subject.getPrincipals(RolePrincipal.class).forEach(role -> roles.add(role.getName()));
        }
        return roles;
    }

    private static String userOf(Subject subject) {
        return subject.getPrincipals(org.apache.activemq.artemis.spi.core.security.jaas.UserPrincipal.class).stream()
                .map(java.security.Principal::getName).findFirst().orElse("?");
    }
}
