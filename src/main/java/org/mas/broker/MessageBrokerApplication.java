package org.mas.broker;

import org.mas.broker.config.BrokerLauncher;

/**
 * Starts the MAS Message Broker: {@code java -jar target/mas-message-broker.jar [--config file.yaml]}; with
 * {@code --hash-secret}, prints the bcrypt hash of the agent secret read from stdin instead.
 */
public final class MessageBrokerApplication {

    public static void main(String[] args) throws Exception {
        // the ledger's timestamps are written and read in the JVM's time zone: routers sharing one must agree on it
        java.util.TimeZone.setDefault(java.util.TimeZone.getTimeZone("UTC"));
        System.exit(BrokerLauncher.runFromCommandLine(args, System.getenv()));
    }
}
