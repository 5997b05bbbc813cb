package org.mas.broker.ingress;

import jakarta.jms.Message;
import jakarta.jms.TextMessage;
import org.apache.activemq.artemis.api.core.client.ClientMessage;
import org.apache.activemq.artemis.jms.client.ActiveMQMessage;

/** Sizes of JMS message bodies, read from the Artemis client's message without decoding the body. */
public final class JmsBodies {

    /** A CORE text body: a nullable SimpleString, 1 byte (not null) + 4 bytes (length) + 2 bytes per UTF-16 char. */
    private static final int TEXT_OVERHEAD = 1 + 4;

    private JmsBodies() {
    }

    /**
     * The size in bytes of the body as the Artemis client holds it (for a large message, the size the broker
     * announced for the streamed body); -1 for a message of another JMS provider.
     */
    public static long encodedBodySize(Message message) {
        if (message instanceof ActiveMQMessage artemis) {
            ClientMessage core = artemis.getCoreMessage();
            if (core.isLargeMessage() && !core.containsProperty(org.apache.activemq.artemis.api.core.Message.HDR_LARGE_BODY_SIZE)) {
                return -1; // ClientLargeMessageImpl.getBodySize() reads this property only
            }
            return core.getBodySize();
        }
        return -1;
    }

    /**
     * The length in chars of a TextMessage's text, from its encoded size; -1 when unknown. Its UTF-8 encoding takes at
     * least as many bytes (at most three times as many).
     */
    public static long textLength(TextMessage message) {
        long size = encodedBodySize(message);
        return size < TEXT_OVERHEAD ? -1 : (size - TEXT_OVERHEAD) / 2;
    }
}
