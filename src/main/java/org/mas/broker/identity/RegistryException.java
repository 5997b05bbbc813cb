package org.mas.broker.identity;

/**
 * A registry change refused: the agent is unknown, already registered, disabled, declared in configuration, or changed
 * by another process while this change was being written (twice in a row).
 */
public class RegistryException extends Exception {

    public enum Reason { UNKNOWN, EXISTS, DISABLED, READ_ONLY, CONFLICT }

    private final Reason reason;

    public RegistryException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // an expected outcome, not a fault
    }
}
