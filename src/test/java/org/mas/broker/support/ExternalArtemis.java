package org.mas.broker.support;

import java.nio.file.Path;

import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;

/**
 * An Artemis broker of its own for tests that run the router against an external broker (broker_url): in this JVM,
 * persistent, its journal under {@code <dir>/artemis}, one loopback TCP acceptor, no security. Stop it when done;
 * started again on the same directory it keeps what it held.
 */
public final class ExternalArtemis {

    private ExternalArtemis() {
    }

    public static EmbeddedActiveMQ start(Path dir, int port) throws Exception {
        ConfigurationImpl config = new ConfigurationImpl();
        config.setPersistenceEnabled(true);
        config.setSecurityEnabled(false);
        config.setJournalDirectory(dir.resolve("artemis/journal").toString());
        config.setBindingsDirectory(dir.resolve("artemis/bindings").toString());
        config.setPagingDirectory(dir.resolve("artemis/paging").toString());
        config.setLargeMessagesDirectory(dir.resolve("artemis/large").toString());
        config.addAcceptorConfiguration("tcp", "tcp://127.0.0.1:" + port);
        EmbeddedActiveMQ artemis = new EmbeddedActiveMQ();
        artemis.setConfiguration(config);
        artemis.start();
        return artemis;
    }
}
