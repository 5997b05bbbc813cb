package org.mas.broker.queues;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.activemq.artemis.api.core.management.ResourceNames;

import org.mas.broker.MasNames;

/**
 * The broker's MAS queues, through Artemis's management address only (so it works the same on an external broker):
 * list, inspect, create, delete, purge. Every name is checked to be a {@code mas.} queue first.
 */
public class QueueAdmin {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int PAGE = 1_000;

    private final BrokerManagement management;

    public QueueAdmin(BrokerManagement management) {
        this.management = management;
    }

    /** What the API shows of one queue: {@code agent} for an agent queue, {@code capability} for a capability's. */
    public record QueueInfo(String name, @JsonInclude(JsonInclude.Include.NON_NULL) String agent,
                            @JsonInclude(JsonInclude.Include.NON_NULL) String capability, long depth, int consumers,
                            long added, long acknowledged, long expired, long deadLettered) {
    }

    public static boolean isMasQueue(String name) {
        return name != null && name.startsWith("mas.") && !name.contains("::") && name.length() <= 300;
    }

    public List<QueueInfo> list() throws Exception {
        List<QueueInfo> queues = new ArrayList<>();
        String filter = "{\"field\":\"name\",\"operation\":\"CONTAINS\",\"value\":\"mas.\"}";
        for (int page = 1; ; page++) {
            JsonNode result = MAPPER.readTree(String.valueOf(management.invoke(ResourceNames.BROKER, "listQueues",
                    filter, page, PAGE)));
            JsonNode data = result.path("data");
            for (JsonNode queue : data) {
                String name = queue.path("name").asText();
                if (isMasQueue(name) && !queue.path("temporary").asBoolean(false)) {
                    queues.add(info(queue));
                }
            }
            if (data.size() < PAGE) {
                return queues;
            }
        }
    }

    public Optional<QueueInfo> get(String name) throws Exception {
        String filter = "{\"field\":\"name\",\"operation\":\"EQUALS\",\"value\":" + MAPPER.writeValueAsString(name) + "}";
        JsonNode result = MAPPER.readTree(String.valueOf(management.invoke(ResourceNames.BROKER, "listQueues", filter, 1, 1)));
        JsonNode data = result.path("data");
        return data.isEmpty() ? Optional.empty() : Optional.of(info(data.get(0)));
    }

    /**
     * Creates the anycast queue mas.agent.&lt;agent&gt;; a max depth refuses sends beyond it (address-full policy FAIL),
     * a ttl (seconds) expires the messages that carry no expiration of their own.
     */
    public QueueInfo createAgentQueue(String agent, Long maxDepth, Long ttlSeconds) throws Exception {
        String name = MasNames.agentQueue(agent);
        createQueue(name, maxDepth, ttlSeconds);
        return get(name).orElseThrow();
    }

    /**
     * Creates the anycast queue mas.capability.&lt;capability&gt; unless it exists: the router makes it for every
     * offered capability, so that the agents offering it can consume before any message is sent (they may not create
     * queues). @return true if it was created
     */
    public boolean ensureCapabilityQueue(String capability) throws Exception {
        return ensureQueue(MasNames.capabilityQueue(capability));
    }

    /**
     * Creates the anycast queue mas.agent.&lt;agent&gt; unless it exists: on an external broker the router makes it for
     * every registered agent, which may consume but not create it. @return true if it was created
     */
    public boolean ensureAgentQueue(String agent) throws Exception {
        return ensureQueue(MasNames.agentQueue(agent));
    }

    private boolean ensureQueue(String name) throws Exception {
        if (get(name).isPresent()) {
            return false;
        }
        try {
            createQueue(name, null, null);
            return true;
        } catch (RuntimeException e) {
            if (get(name).isPresent()) {
                return false; // created meanwhile (another router, a first send)
            }
            throw e;
        }
    }

    private void createQueue(String name, Long maxDepth, Long ttlSeconds) throws Exception {
        if (maxDepth != null || ttlSeconds != null) {
            Map<String, Object> settings = new LinkedHashMap<>();
            if (maxDepth != null) {
                settings.put("maxSizeMessages", maxDepth);
                settings.put("addressFullMessagePolicy", "FAIL");
            }
            if (ttlSeconds != null) {
                settings.put("expiryDelay", ttlSeconds * 1000);
            }
            management.invoke(ResourceNames.BROKER, "addAddressSettings", name, MAPPER.writeValueAsString(settings));
        }
        Map<String, Object> queue = new LinkedHashMap<>();
        queue.put("name", name);
        queue.put("address", name);
        queue.put("routing-type", "ANYCAST");
        queue.put("durable", true);
        management.invoke(ResourceNames.BROKER, "createQueue", MAPPER.writeValueAsString(queue));
    }

    public void delete(String name) throws Exception {
        management.invoke(ResourceNames.BROKER, "destroyQueue", name, true, true);
    }

    /**
     * Removes an agent queue only while it has no consumer: the broker refuses if one attached since it was read.
     * An address the queue leaves empty goes with it.
     */
    public void deleteUnconsumed(String name) throws Exception {
        management.invoke(ResourceNames.BROKER, "destroyQueue", name, false, true);
    }

    /** Sends the messages whose expiration has passed to the expiry address now. @return messages expired */
    public long expireDue(String name, long nowMillis) throws Exception {
        return asLong(management.invoke(ResourceNames.QUEUE + name, "expireMessages",
                "AMQExpiration > 0 AND AMQExpiration <= " + nowMillis));
    }

    /** Removes the messages put on the queue before {@code cutoffMillis}. @return messages removed */
    public long removeOlderThan(String name, long cutoffMillis) throws Exception {
        return asLong(management.invoke(ResourceNames.QUEUE + name, "removeMessages", "AMQTimestamp < " + cutoffMillis));
    }

    /** Messages on a queue that match a core filter (null: all), counted by the broker without sending them. */
    public long count(String name, String filter) throws Exception {
        return asLong(management.invoke(ResourceNames.QUEUE + name, "countMessages", filter == null ? "" : filter));
    }

    private static long asLong(Object value) {
        return value instanceof Number n ? n.longValue() : Long.parseLong(String.valueOf(value));
    }

    /** @return messages removed */
    public long purge(String name) throws Exception {
        return asLong(management.invoke(ResourceNames.QUEUE + name, "removeAllMessages"));
    }

    private static QueueInfo info(JsonNode queue) {
        String name = queue.path("name").asText();
        String recipient = MasNames.queueRecipient(name);
        String capability = MasNames.capabilityOf(recipient);
        String agent = capability == null ? recipient : null;
        return new QueueInfo(name, agent, capability, queue.path("messageCount").asLong(), queue.path("consumerCount").asInt(),
                queue.path("messagesAdded").asLong(), queue.path("messagesAcked").asLong(),
                queue.path("messagesExpired").asLong(), queue.path("messagesKilled").asLong());
    }
}
