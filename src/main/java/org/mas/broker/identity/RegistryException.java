package org.mas.broker.identity;

/** A registry change refused: the agent is unknown, already registered, disabled, or declared in configuration. */
public class RegistryException extends Exception {

    public enum Reason { UNKNOWN, EXISTS, DISABLED, READ_ONLY }

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
