package org.mas.broker.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;

import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.support.RunningBroker;

/**
 * What the delivery ledger costs: messages per second through JMS ingress -> validate -> route -> agent queue, with
 * the ledger recording and without, and raw Artemis (producer -> consumer), all in one broker instance. Persistent
 * 1 KiB messages, async sends, one producer, one consumer. Not a test: run by bench/run.
 */
public final class LedgerCostBenchmark {

    private LedgerCostBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        Path dataDir = Files.createTempDirectory("mas-bench");
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            System.out.printf("setup: java %s, %d cores, embedded Artemis, %s journal (router in-VM, clients over TCP), "
                    + "persistent 1 KiB, async sends, 1 producer + 1 consumer, %d messages per path, one broker instance%n",
                    System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(),
                    broker.artemis().getConfiguration().getJournalType(), count);
            DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort()
                    + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
            try (Connection connection = factory.createConnection()) {
                connection.start();
                String envelope = "{\"from_agent\":\"bench\",\"to_agent\":\"sink\",\"message_type\":\"event\","
                        + "\"payload\":{\"p\":\"" + "x".repeat(880) + "\"}}";
                run(connection, "bench.raw", "bench.raw", envelope, count / 10); // warm-up
                run(connection, "mas.inbound", "mas.agent.sink", envelope, count / 10);
                double raw = run(connection, "bench.raw", "bench.raw", envelope, count);
                ledger.setRecording(false);
                double off = run(connection, "mas.inbound", "mas.agent.sink", envelope, count);
                ledger.setRecording(true);
                double on = run(connection, "mas.inbound", "mas.agent.sink", envelope, count);
                double rawAgain = run(connection, "bench.raw", "bench.raw", envelope, count);
                System.out.printf("raw artemis                 %8.0f msg/s (again at the end: %.0f)%n", raw, rawAgain);
                System.out.printf("router, ledger off          %8.0f msg/s  ratio to raw %.3f%n", off, off / raw);
                System.out.printf("router, ledger on           %8.0f msg/s  ratio to raw %.3f%n", on, on / raw);
                System.out.printf("RATIO ledger_on_vs_off=%.2f (on %.0f, off %.0f msg/s)%n", on / off, on, off);
            } finally {
                factory.close();
            }
        }
    }

    /** Sends {@code count} messages to {@code in} and waits until as many arrived on {@code out}: messages per second. */
    private static double run(Connection connection, String in, String out, String body, int count) throws Exception {
        Session consumerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = consumerSession.createConsumer(consumerSession.createQueue(out));
        Session producerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = producerSession.createProducer(producerSession.createQueue(in));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        long start = System.nanoTime();
        Thread sender = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    producer.send(producerSession.createTextMessage(body));
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        sender.start();
        int received = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (received < count && System.nanoTime() < deadline) {
            if (consumer.receive(1_000) != null) {
                received++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        sender.join();
        consumer.close();
        consumerSession.close();
        producerSession.close();
        if (received < count) {
            throw new IllegalStateException("only " + received + " of " + count + " arrived on " + out);
        }
        return count / seconds;
    }
}
