package org.mas.broker.config;

/** A configuration value the broker cannot start with; the message names the key and what is wrong. */
public class ConfigurationException extends RuntimeException {

    public ConfigurationException(String message) {
        super(message);
    }

    public ConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
