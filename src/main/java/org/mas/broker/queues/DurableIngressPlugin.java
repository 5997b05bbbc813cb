package org.mas.broker.queues;

import java.util.Map;

import org.apache.activemq.artemis.api.core.ActiveMQException;
import org.apache.activemq.artemis.api.core.ActiveMQExceptionType;
import org.apache.activemq.artemis.api.core.Message;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.server.LargeServerMessage;
import org.apache.activemq.artemis.core.server.ServerSession;
import org.apache.activemq.artemis.core.server.plugin.ActiveMQServerPlugin;
import org.apache.activemq.artemis.core.transaction.Transaction;
import org.apache.activemq.artemis.utils.CompositeAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;

/**
 * Artemis broker plugin for the addresses agents send to, {@code mas.inbound} and {@code mas.acks}:
 * <ul>
 * <li>every message the broker accepts there is made durable, whatever the sender asked for (STOMP without
 * {@code persistent:true}, MQTT QoS 0, AMQP {@code durable=false}, JMS NON_PERSISTENT), so a receipt, an AMQP
 * disposition or a blocking send's confirmation comes only once the message is in the journal;</li>
 * <li>a message whose encoded size is over {@link #sizeLimit()} is refused with an {@link ActiveMQException}, which
 * the sender receives in its protocol's way (STOMP ERROR frame, AMQP rejected outcome, JMS exception on a blocking
 * send), and nothing is stored.</li>
 * </ul>
 * Both happen in {@code beforeSend}, which {@code ServerSessionImpl.send} calls for every protocol before the message
 * is routed, i.e. before paging and the journal look at {@code isDurable()}.
 * <p>
 * It depends only on Artemis and {@link MasNames}: a standalone Artemis can load it from this jar with
 * <pre>{@code
 * <broker-plugins>
 *   <broker-plugin class-name="org.mas.broker.queues.DurableIngressPlugin">
 *     <property key="max-message-size" value="1048576"/>   <!-- the router's max_message_size -->
 *   </broker-plugin>
 * </broker-plugins>}</pre>
 */
public class DurableIngressPlugin implements ActiveMQServerPlugin {

    /** broker.xml property: the router's {@code max_message_size} in bytes. */
    public static final String MAX_MESSAGE_SIZE_PROPERTY = "max-message-size";
    /** The router's default {@code max_message_size}. */
    public static final long DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
    /** Room for headers and properties on top of the body. */
    public static final long HEADER_ROOM = 64 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(DurableIngressPlugin.class);
    private static final SimpleString INBOUND = SimpleString.of(MasNames.INBOUND);
    private static final SimpleString ACKS = SimpleString.of(MasNames.ACKS);
    private static final java.util.Set<String> MAS_QUEUES = java.util.Set.of(MasNames.INBOUND, MasNames.ACKS, MasNames.INVALID,
            MasNames.DLQ, MasNames.EXPIRED, MasNames.EXPIRED_LEDGER);

    private volatile long sizeLimit;

    /** For broker.xml: the limit follows {@value #MAX_MESSAGE_SIZE_PROPERTY}, by default 1 MiB. */
    public DurableIngressPlugin() {
        this(DEFAULT_MAX_MESSAGE_SIZE);
    }

    /** @param maxMessageSize the router's {@code max_message_size} in bytes */
    public DurableIngressPlugin(long maxMessageSize) {
        this(maxMessageSize, false);
    }

    /**
     * @param protectAgentQueues also drop the duplicate id of what clients send straight to mas.agent.* and
     * mas.capability.* queues: only where the router talks to the broker in-VM (the embedded default), so that its own
     * copies keep theirs
     */
    public DurableIngressPlugin(long maxMessageSize, boolean protectAgentQueues) {
        this.sizeLimit = limitFor(maxMessageSize);
        this.protectAgentQueues = protectAgentQueues;
    }

    private static final SimpleString AGENT_QUEUE_PREFIX = SimpleString.of(MasNames.AGENT_QUEUE_PREFIX);
    private static final SimpleString CAPABILITY_QUEUE_PREFIX = SimpleString.of(MasNames.CAPABILITY_QUEUE_PREFIX);
    private final boolean protectAgentQueues;

    @Override
    public void init(Map<String, String> properties) {
        String value = properties == null ? null : properties.get(MAX_MESSAGE_SIZE_PROPERTY);
        if (value != null) {
            sizeLimit = limitFor(Long.parseLong(value.trim()));
        }
    }

    /**
     * Twice the router's limit plus {@link #HEADER_ROOM}: a CORE text body takes two bytes per character, so an
     * envelope the router would accept never exceeds this, whatever protocol carried it.
     */
    static long limitFor(long maxMessageSize) {
        if (maxMessageSize <= 0) {
            throw new IllegalArgumentException(MAX_MESSAGE_SIZE_PROPERTY + " must be positive, got " + maxMessageSize);
        }
        return 2 * maxMessageSize + HEADER_ROOM;
    }

    /** Encoded messages over this many bytes are refused on mas.inbound and mas.acks. */
    public long sizeLimit() {
        return sizeLimit;
    }

    /**
     * With the plugin comes the MQTT subscription guard (see {@link MqttSubscriptionGuard}); on a standalone broker
     * whose bootstrap.xml names {@link RegistrySecurityManager}, the plugin also hands it the server.
     */
    @Override
    public void registered(org.apache.activemq.artemis.core.server.ActiveMQServer server) {
        MqttSubscriptionGuard.install(server);
        if (server.getSecurityManager() instanceof RegistrySecurityManager registrySecurity) {
            registrySecurity.attach(server);
        }
    }

    @Override
    public void beforeSend(ServerSession session, Transaction tx, Message message, boolean direct,
                           boolean noAutoCreateQueue) throws ActiveMQException {
        SimpleString address = addressName(session, message.getAddressSimpleString());
        if (address == null) {
            return;
        }
        if (protectAgentQueues && (address.startsWith(AGENT_QUEUE_PREFIX) || address.startsWith(CAPABILITY_QUEUE_PREFIX))
                && isRemote(session)) {
            // a client's own duplicate id on an agent queue would make Artemis drop the router's copy of that id
            stripDuplicateId(message);
            return;
        }
        if (!INBOUND.equals(address) && !ACKS.equals(address)) {
            return;
        }
        // who sent it, for the router's sender check: the session's authenticated user, on every protocol (Artemis's
        // own populate-validated-user skips AMQP messages, and leaves what a client wrote when the session has none)
        boolean changed = stampSender(session, message);
        long size = message.getWholeMessageSize(); // large messages: headers plus the body file's size
        if (size > sizeLimit) {
            refuse(session, message, size);
        }
        if (!(message instanceof org.apache.activemq.artemis.core.message.impl.CoreMessage)
                && !(message instanceof LargeServerMessage)) {
            try {
                message.toCore(); // what the router's consumer will be given: a body it cannot convert would kill it
            } catch (RuntimeException e) {
                LOG.warn("Refused a message to {} whose body cannot be converted for the router: {}", address, e.toString());
                throw new ActiveMQException(ActiveMQExceptionType.ILLEGAL_STATE, "refused by the MAS broker: the message "
                        + "body cannot be read (send the JSON envelope as text or bytes): " + e.getMessage());
            }
        }
        // the router makes every message idempotent by its envelope id: a sender's duplicate id only hides messages
        changed |= stripDuplicateId(message);
        if (!message.isDurable()) {
            message.setDurable(true);
            changed = true;
        }
        if (changed) {
            message.reencode(); // AMQP keeps its encoded header: rewrite it, or the journal keeps the old values
        }
    }

    /**
     * Agents delete no queue: Artemis's MQTT protocol destroys the queue a fully qualified subscription named when the
     * subscription ends (unsubscribe, a clean session's end), bypassing the security check (no session is passed), so an
     * MQTT agent lost its own queue, messages and all, at every clean disconnect. A MAS queue (its address is its name)
     * is destroyed only by the router (in-VM), management and the broker itself: never from a client's session, and
     * never on behalf of MQTT's subscription clean-up. (A refused SUBSCRIBE deleted queues too, without reaching
     * here: {@link MqttSubscriptionGuard} keeps those out.)
     */
    @Override
    public void beforeDestroyQueue(org.apache.activemq.artemis.core.server.Queue queue,
                                   org.apache.activemq.artemis.core.security.SecurityAuth session, boolean checkConsumerCount,
                                   boolean removeConsumers, boolean forceAutoDeleteAddress) throws ActiveMQException {
        if (!isMasQueue(queue)) {
            return;
        }
        if (!isRemote(session) && !calledFromMqttSubscriptions()) {
            return;
        }
        LOG.warn("Refused to let {} delete the queue {}", session == null ? "an MQTT subscription's clean-up"
                : session.getUsername() + " (from " + session.getRemotingConnection().getRemoteAddress() + ")", queue.getName());
        throw new org.apache.activemq.artemis.api.core.ActiveMQSecurityException("refused by the MAS broker: clients do not "
                + "delete queues (" + queue.getName() + ")");
    }

    /** True when Artemis's MQTT subscription manager asks (its clean-up passes no session to tell it by). */
    private static boolean calledFromMqttSubscriptions() {
        return StackWalker.getInstance().walk(frames -> frames.anyMatch(frame -> frame.getClassName().equals(MQTT_SUBSCRIPTIONS)));
    }

    private static final String MQTT_SUBSCRIPTIONS = "org.apache.activemq.artemis.core.protocol.mqtt.MQTTSubscriptionManager";

    private static boolean isMasQueue(org.apache.activemq.artemis.core.server.Queue queue) {
        SimpleString name = queue.getName();
        return name.equals(queue.getAddress()) && (name.startsWith(AGENT_QUEUE_PREFIX) || name.startsWith(CAPABILITY_QUEUE_PREFIX)
                || MAS_QUEUES.contains(name.toString()));
    }

    private static boolean stampSender(ServerSession session, Message message) {
        String user = session == null ? null : session.getValidatedUser();
        boolean changed = user == null && message.removeProperty(Message.HDR_VALIDATED_USER) != null;
        SimpleString stamp = SimpleString.of(MasNames.HEADER_SENDER);
        if (user == null) {
            return message.removeProperty(stamp) != null || changed;
        }
        message.putStringProperty(stamp, SimpleString.of(user));
        return true;
    }

    private static boolean stripDuplicateId(Message message) {
        return message.removeProperty(Message.HDR_DUPLICATE_DETECTION_ID) != null;
    }

    /** A client's connection, not the router's own in-VM one (nor the broker's internal moves, which have no session). */
    private static boolean isRemote(org.apache.activemq.artemis.core.security.SecurityAuth session) {
        return session != null && session.getRemotingConnection() != null
                && !session.getRemotingConnection().getTransportConnection().getClass().getSimpleName().startsWith("InVM");
    }

    private void refuse(ServerSession session, Message message, long size) throws ActiveMQException {
        String reason = "message too large for " + message.getAddress() + ": " + size + " bytes encoded, the broker's limit is "
                + sizeLimit + " (2 x max_message_size + " + HEADER_ROOM + ")";
        LOG.warn("Refused a message from {}: {}", session == null || session.getRemotingConnection() == null ? "?" : session.getRemotingConnection().getRemoteAddress(), reason);
        // A large message's body is already in a file. CORE and AMQP delete it when the send fails, STOMP and the
        // journal's own conversion of a big message (LargeServerMessageImpl.checkLargeMessage) do not; deleting
        // twice is harmless (the file is removed with deleteIfExists).
        if (message.isLargeMessage() && message instanceof LargeServerMessage large) {
            try {
                large.deleteFile();
            } catch (Exception e) {
                LOG.warn("Could not delete the body of refused large message {}", message.getMessageID(), e);
            }
        }
        throw new ActiveMQException(ActiveMQExceptionType.GENERIC_EXCEPTION, reason);
    }

    /** The address without a routing prefix (anycast://) or queue name (address::queue). */
    /** The address a message is sent to, without an acceptor prefix or a {@code ::queue} part; null if none. */
    private static SimpleString addressName(ServerSession session, SimpleString address) {
        if (address == null) {
            return null;
        }
        SimpleString name = session == null ? address : session.removePrefix(address);
        return CompositeAddress.extractAddressName(name);
    }
}
